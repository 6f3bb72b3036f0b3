"""Every document's variables, declared as spacectl's GraphQL library declares them (item 2)."""

from __future__ import annotations

from graphql import parse, validate

from dashboard.spacelift import documents
from simulator.schema import load_schema
from tests.test_simulator import exchange, post


def _texts() -> dict[str, str]:
    found = {}
    for name in dir(documents):
        value = getattr(documents, name)
        if isinstance(value, documents.Document):
            found[name] = value.render()
        elif isinstance(value, str) and value.lstrip().startswith(("query", "mutation")):
            found[name] = value
    found["module_versions(2)"] = documents.module_versions(2)
    return found


def test_every_document_is_valid_against_the_strict_schema():
    schema = load_schema()
    texts = _texts()
    assert {"SEARCH_STACKS", "RUN_LOGS", "RUN_CONFIRM", "module_versions(2)"} <= set(texts)
    for name, text in texts.items():
        assert validate(schema, parse(text)) == [], name
    assert "$includeFailed: Boolean!" in documents.module_versions(1)


def test_the_simulator_rejects_a_nullable_variable_where_the_argument_is_non_null(sim):
    token = exchange(sim)
    module_id = sim.world.modules[0].id
    nullable = documents.module_versions(1).replace("Boolean!", "Boolean")
    body = post(sim, nullable, {"m0": module_id, "includeFailed": False}, token=token).json()
    assert body["errors"][0]["message"] == (
        "Variable '$includeFailed' of type 'Boolean' used in position expecting type 'Boolean!'."
    )
    strict = documents.module_versions(1)
    body = post(sim, strict, {"m0": module_id, "includeFailed": False}, token=token).json()
    assert "errors" not in body and body["data"]["m0"]["versions"]
