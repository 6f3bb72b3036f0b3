"""A fast path for the simulator's large plain queries, so `make bench` measures the portal.

graphql-core spends about 7 µs on every field it resolves, so `stacks` at 10,000 stacks takes
over two seconds: the bench would measure the simulator, not the portal. Queries without
arguments or directives below the root (the stack list is one) are completed here instead,
with the same field collection rules. Whenever anything unusual happens (an exception, a null
in a non-null field) `execute_plain` answers None and the simulator runs the request through
graphql-core, so errors are always graphql-core's own. Only bench/ plugs this in
(`bench/simulator.py`); the tests' simulator stays plain graphql-core.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    is_abstract_type,
    is_leaf_type,
)

from simulator.schema import AttrResolver, RequestContext

logger = logging.getLogger(__name__)


def execute_plain(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    context: RequestContext,
) -> dict[str, Any] | None:
    """The `data` of a plain query, or None to leave the request to graphql-core."""
    if not fast_path_applies(document, operation):
        return None
    try:
        return _FastExecutor(schema, document, context).run(operation)
    except Exception:
        logger.debug("fast path fell back to graphql-core", exc_info=True)
        return None


class _Fallback(Exception):
    pass


@dataclass
class _FastInfo:
    context: RequestContext


def fast_path_applies(document: DocumentNode, operation: OperationDefinitionNode) -> bool:
    if operation.operation != OperationType.QUERY or operation.directives:
        return False
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    seen: set[str] = set()

    def plain(selection_set: SelectionSetNode) -> bool:
        for selection in selection_set.selections:
            if selection.directives:
                return False
            if isinstance(selection, FieldNode):
                if selection.arguments or selection.name.value in ("__schema", "__type"):
                    return False
                if selection.selection_set and not plain(selection.selection_set):
                    return False
            elif isinstance(selection, InlineFragmentNode):
                if not plain(selection.selection_set):
                    return False
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen:
                    seen.add(name)
                    if name not in fragments or not plain(fragments[name].selection_set):
                        return False
        return True

    return plain(operation.selection_set)


def _leaf_serializer(type_: Any) -> Callable[[Any], Any]:
    """The type's own serializer, skipping it where the value is already what it returns."""
    serialize = type_.serialize
    if type_ in (GraphQLString, GraphQLID):
        return lambda value: value if type(value) is str else serialize(value)
    if type_ is GraphQLBoolean:
        return lambda value: value if type(value) is bool else serialize(value)
    if type_ is GraphQLInt:
        # GraphQL's Int is 32-bit; anything else goes through graphql-core (and its error).
        return lambda value: (
            value if type(value) is int and -(2**31) <= value < 2**31 else serialize(value)
        )
    return serialize


class _FastExecutor:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, context: RequestContext):
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.info = _FastInfo(context)
        self.plans: dict[tuple[str, tuple[int, ...]], list[tuple[Any, ...]]] = {}

    def run(self, operation: OperationDefinitionNode) -> dict[str, Any]:
        root = self.schema.query_type
        assert root is not None
        return self.complete_object(root, None, (operation.selection_set,))

    def _applies(self, condition: Any, runtime_type: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        condition_type = self.schema.get_type(condition.name.value)
        if condition_type is runtime_type:
            return True
        return is_abstract_type(condition_type) and self.schema.is_sub_type(
            condition_type,  # type: ignore[arg-type]
            runtime_type,
        )

    def plan(
        self, type_: GraphQLObjectType, selection_sets: tuple[SelectionSetNode, ...]
    ) -> list[tuple[Any, ...]]:
        """(response key, attribute or None, resolver, completer) per field, in the order
        graphql-core's field collection gives."""
        key = (type_.name, tuple(id(s) for s in selection_sets))
        plan = self.plans.get(key)
        if plan is not None:
            return plan
        grouped: dict[str, list[Any]] = {}
        visited: set[str] = set()

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    response_key = (selection.alias or selection.name).value
                    entry = grouped.get(response_key)
                    if entry is None:
                        entry = grouped[response_key] = [selection.name.value, []]
                    if selection.selection_set:
                        entry[1].append(selection.selection_set)
                elif isinstance(selection, InlineFragmentNode):
                    if self._applies(selection.type_condition, type_):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in visited:
                        continue
                    visited.add(name)
                    fragment = self.fragments[name]
                    if self._applies(fragment.type_condition, type_):
                        visit(fragment.selection_set)

        for selection_set in selection_sets:
            visit(selection_set)
        plan = []
        for response_key, (name, subs) in grouped.items():
            if name == "__typename":
                type_name = type_.name
                plan.append((response_key, None, None, lambda _, t=type_name: t))
                continue
            field_def = type_.fields[name]
            resolve = field_def.resolve
            attr = resolve.attr if isinstance(resolve, AttrResolver) else None
            plan.append((response_key, attr, resolve, self.completer(field_def.type, tuple(subs))))
        self.plans[key] = plan
        return plan

    def completer(self, type_: Any, subs: tuple[SelectionSetNode, ...]) -> Callable[[Any], Any]:
        if isinstance(type_, GraphQLNonNull):
            inner = self.completer(type_.of_type, subs)

            def non_null(value: Any) -> Any:
                completed = inner(value)
                if completed is None:
                    raise _Fallback
                return completed

            return non_null
        if isinstance(type_, GraphQLList):
            item = self.completer(type_.of_type, subs)
            return lambda value: None if value is None else [item(v) for v in value]
        if is_leaf_type(type_):
            serialize = _leaf_serializer(type_)
            return lambda value: None if value is None else serialize(value)
        if is_abstract_type(type_):

            def abstract(value: Any) -> Any:
                if value is None:
                    return None
                runtime_name = type_.resolve_type(value, self.info, type_)
                return self.complete_object(self.schema.get_type(runtime_name), value, subs)

            return abstract
        return lambda value: None if value is None else self.complete_object(type_, value, subs)

    def complete_object(
        self, type_: GraphQLObjectType, source: Any, selection_sets: tuple[SelectionSetNode, ...]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if type(source) is dict:
            for response_key, attr, resolve, complete in self.plan(type_, selection_sets):
                value = source.get(attr) if attr else resolve and resolve(source, self.info)
                result[response_key] = complete(value)
        else:
            for response_key, attr, resolve, complete in self.plan(type_, selection_sets):
                value = getattr(source, attr) if attr else resolve and resolve(source, self.info)
                result[response_key] = complete(value)
        return result
