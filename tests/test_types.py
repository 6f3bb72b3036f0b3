from dashboard.spacelift.types import Health, Run, RunState, Stack, StackState


def test_an_unknown_stack_state_is_shown_as_unknown_not_a_crash():
    stack = Stack.from_api({"id": "x", "name": "X", "state": "HIBERNATING"})
    assert stack.state is StackState.UNKNOWN
    assert stack.state_raw == "HIBERNATING"
    assert stack.health is Health.UNKNOWN
    assert stack.state_label == "Hibernating"


def test_an_unknown_run_state_and_type_are_unknown():
    run = Run.from_api({"id": "r", "state": "TELEPORTING", "type": "QUANTUM", "createdAt": 1})
    assert run.state is RunState.UNKNOWN
    assert run.health is Health.UNKNOWN
    assert run.type_label == "Quantum"


def test_every_known_stack_state_has_a_health():
    for state in StackState:
        stack = Stack.from_api({"id": "x", "state": state.value})
        assert (stack.health is Health.UNKNOWN) == (state is StackState.UNKNOWN)


def test_missing_optional_fields_are_tolerated():
    stack = Stack.from_api({"id": "bare", "state": "NONE"})
    assert stack.name == "bare"
    assert stack.labels == ()
    assert stack.tracked_commit is None
    assert stack.health is Health.NEVER_RUN


def test_updated_at_in_milliseconds_is_read_as_seconds():
    run = Run.from_api(
        {
            "id": "r",
            "state": "FINISHED",
            "type": "TRACKED",
            "createdAt": 1_700_000_000,
            "updatedAt": 1_700_000_090_000,
            "finished": True,
        }
    )
    assert run.updated_at.timestamp() == 1_700_000_090
    assert run.duration_seconds == 90


def test_vendor_config_names_the_tool():
    stack = Stack.from_api(
        {
            "id": "x",
            "state": "FINISHED",
            "vendorConfig": {
                "__typename": "StackConfigVendorTerraform",
                "version": "1.9.5",
                "workflowTool": "OPEN_TOFU",
            },
        }
    )
    assert (stack.tool, stack.tool_version) == ("OpenTofu", "1.9.5")
    pulumi = Stack.from_api(
        {"id": "p", "state": "NONE", "vendorConfig": {"__typename": "StackConfigVendorPulumi"}}
    )
    assert pulumi.tool == "Pulumi"
