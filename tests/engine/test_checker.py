"""Tests of check_workflow: the data-flow problems, warnings and lineage of a definition."""

import pytest
from factories import field, service, workflow

from machinery.contracts import analyse, service_names
from machinery.engine.checker import (
    IMPOSSIBLE_PATH,
    INVALID,
    TYPE_MISMATCH,
    UNKNOWN_INPUT,
    UNSATISFIED,
    check_workflow,
    describe,
)
from machinery.language.model import Call, Field, Service, Workflow
from machinery.language.parse import parse_service, parse_workflow

SERVICES = {
    "upper": service("upper"),
    "reverse": service("reverse"),
    "space-counter": service("space-counter", outputs=[field("space_count", "int")]),
    "counter": service("counter", inputs=[field("text")], outputs=[field("count", "int")]),
    "half": service("half", inputs=[field("n", "int")], outputs=[field("n", "int")]),
    "scale": service(
        "scale", inputs=[field("factor", "float")], outputs=[field("scaled", "float")]
    ),
    "flag": service("flag", inputs=[field("on", "bool")], outputs=[field("on", "bool")]),
    "profile": service(
        "profile",
        inputs=[field("id", "int")],
        outputs=[
            field("user", "object"),
            field("tags", "array"),
            field("nick", required=False),
        ],
    ),
    "greet": service(
        "greet",
        inputs=[field("name"), field("title", required=False)],
        outputs=[field("greeting")],
    ),
    "clock": service("clock", inputs=[], outputs=[field("now")]),
}

INPUT = {"from": "input", "field": "message"}


MODELS = {name: parse_service(definition) for name, definition in SERVICES.items()}


def definition_of(steps, inputs=(), outputs=(), operations=()):
    return workflow(
        services=steps, inputs=list(inputs), outputs=list(outputs), operations=operations
    )


def check(steps, inputs=(), outputs=(), operations=()):
    """The analysis of a workflow over SERVICES."""
    parsed = parse_workflow(definition_of(steps, inputs, outputs, operations))
    return check_workflow(parsed, MODELS)


def from_step(index, service_name, output):
    return {"from": "step", "step": index, "service": service_name, "field": output}


# A clean workflow


def test_the_seed_workflow_flows():
    analysis = check(
        ["upper", "reverse", "space-counter"],
        inputs=[field("message")],
        outputs=[field("message"), field("space_count", "int")],
    )
    assert analysis.ok
    assert analysis.problems == [] and analysis.warnings == []
    assert analysis.lineage == {
        "steps": [
            {"index": 0, "service": "upper", "inputs": {"message": INPUT}},
            {
                "index": 1,
                "service": "reverse",
                "inputs": {"message": from_step(0, "upper", "message")},
            },
            {
                "index": 2,
                "service": "space-counter",
                "inputs": {"message": from_step(1, "reverse", "message")},
            },
        ],
        "outputs": {
            "message": from_step(1, "reverse", "message"),
            "space_count": from_step(2, "space-counter", "space_count"),
        },
    }


def test_a_mapped_step_flows_and_its_lineage_follows_the_mapping():
    analysis = check(
        [
            "upper",
            {"service": "counter", "input": {"text": "message"}, "output": {"total": "count"}},
        ],
        inputs=[field("message")],
        outputs=[field("message"), field("total", "int")],
    )
    assert analysis.problems == [] and analysis.warnings == []
    assert analysis.lineage["steps"][1]["inputs"] == {"text": from_step(0, "upper", "message")}
    assert analysis.lineage["outputs"]["total"] == from_step(1, "counter", "count")


# unsatisfied


def test_an_input_nothing_provides_is_unsatisfied():
    analysis = check(["upper"], inputs=[field("text")])
    assert analysis.problems == [
        {
            "code": UNSATISFIED,
            "message": "Step 0 (upper): input 'message' (string) can be satisfied by nothing: "
            "'message' is not in the running data here, which holds text (string, workflow input).",
            "step": 0,
            "service": "upper",
            "field": "message",
            "expected": "string",
            "source": "message",
            "available": {"text": {"type": "string", "from": "workflow input"}},
        }
    ]
    assert not analysis.ok
    assert analysis.lineage["steps"][0]["inputs"] == {"message": None}


def test_an_unsatisfied_input_with_nothing_available_says_so():
    (problem,) = check(["upper"]).problems
    assert problem["message"] == (
        "Step 0 (upper): input 'message' (string) can be satisfied by nothing: "
        "'message' is not in the running data here, which holds nothing."
    )
    assert problem["available"] == {}


def test_an_unsatisfied_mapped_input_names_the_path_it_reads():
    (problem,) = check(
        [{"service": "counter", "input": {"text": "body"}}, "half"],
        inputs=[field("message"), field("n", "int")],
    ).problems
    assert problem == {
        "code": UNSATISFIED,
        "message": "Step 0 (counter): input 'text' (string) can be satisfied by nothing: "
        "'body' is not in the running data here, which holds "
        "message (string, workflow input), n (int, workflow input).",
        "step": 0,
        "service": "counter",
        "field": "text",
        "expected": "string",
        "source": "body",
        "available": {
            "message": {"type": "string", "from": "workflow input"},
            "n": {"type": "int", "from": "workflow input"},
        },
    }


def test_the_available_data_names_where_each_value_comes_from():
    (problem,) = check(["profile", "half"], inputs=[field("id", "int")]).problems
    assert problem["message"] == (
        "Step 1 (half): input 'n' (int) can be satisfied by nothing: 'n' is not in the running "
        "data here, which holds id (int, workflow input), "
        "user (object, output 'user' of step 0 (profile)), "
        "tags (array, output 'tags' of step 0 (profile)), "
        "nick (string, output 'nick' of step 0 (profile))."
    )


def test_a_value_of_unknown_type_is_listed_as_any():
    (problem,) = check(
        [{"service": "profile", "output": {"name": "user.name"}}, "half"],
        inputs=[field("id", "int")],
    ).problems
    assert problem["available"]["name"] == {
        "type": None,
        "from": "output 'user.name' of step 0 (profile)",
    }
    assert "name (any, output 'user.name' of step 0 (profile))" in problem["message"]


def test_an_optional_input_may_be_unsatisfied():
    analysis = check(["greet"], inputs=[field("name")], outputs=[field("greeting")])
    assert analysis.problems == [] and analysis.warnings == []
    assert analysis.lineage["steps"][0]["inputs"] == {
        "name": {"from": "input", "field": "name"},
        "title": None,
    }


def test_an_optional_input_mapped_to_nothing_is_no_problem_either():
    analysis = check(
        [{"service": "greet", "input": {"title": "honorific"}}], inputs=[field("name")]
    )
    assert analysis.problems == []
    assert analysis.lineage["steps"][0]["inputs"]["title"] is None


def test_an_optional_input_that_is_there_is_still_type_checked():
    (problem,) = check(["greet"], inputs=[field("name"), field("title", "int")]).problems
    assert problem["code"] == TYPE_MISMATCH
    assert problem["field"] == "title"


# type_mismatch


def test_a_workflow_input_of_the_wrong_type_is_a_type_mismatch():
    analysis = check(["half"], inputs=[field("n", "float")])
    assert analysis.problems == [
        {
            "code": TYPE_MISMATCH,
            "message": "Step 0 (half): input 'n' expects int, but 'n' is float "
            "(from workflow input).",
            "step": 0,
            "service": "half",
            "field": "n",
            "expected": "int",
            "found": "float",
            "source": "n",
            "origin": {"from": "input", "field": "n"},
        }
    ]


def test_a_step_output_of_the_wrong_type_names_the_step_it_comes_from():
    (problem,) = check(
        ["counter", {"service": "upper", "input": {"message": "count"}}],
        inputs=[field("text")],
    ).problems
    assert problem == {
        "code": TYPE_MISMATCH,
        "message": "Step 1 (upper): input 'message' expects string, but 'count' is int "
        "(from output 'count' of step 0 (counter)).",
        "step": 1,
        "service": "upper",
        "field": "message",
        "expected": "string",
        "found": "int",
        "source": "count",
        "origin": from_step(0, "counter", "count"),
    }


@pytest.mark.parametrize(
    ("given", "service_name", "flows"),
    [
        ("int", "half", True),
        ("int", "scale", True),
        ("float", "scale", True),
        ("float", "half", False),
        ("bool", "half", False),
        ("bool", "scale", False),
        ("int", "flag", False),
        ("float", "flag", False),
        ("bool", "flag", True),
        ("string", "half", False),
        ("object", "scale", False),
    ],
)
def test_types_that_may_feed_an_input(given, service_name, flows):
    name = SERVICES[service_name]["inputs"][0]["name"]
    analysis = check([service_name], inputs=[field(name, given)])
    assert analysis.ok is flows
    if not flows:
        (problem,) = analysis.problems
        assert (problem["code"], problem["found"]) == (TYPE_MISMATCH, given)


@pytest.mark.parametrize(
    ("literal", "found", "shown"),
    [
        ({"const": "5"}, "string", '"5"'),
        (1.5, "float", "1.5"),
        ([5], "array", "[5]"),
        ({"const": {"n": 5}}, "object", '{"n": 5}'),
    ],
)
def test_a_literal_of_the_wrong_type_is_a_type_mismatch(literal, found, shown):
    analysis = check([{"service": "half", "input": {"n": literal}}])
    assert analysis.problems == [
        {
            "code": TYPE_MISMATCH,
            "message": f"Step 0 (half): input 'n' expects int, but the literal {shown} is {found}.",
            "step": 0,
            "service": "half",
            "field": "n",
            "expected": "int",
            "found": found,
        }
    ]
    assert analysis.lineage["steps"][0]["inputs"]["n"]["from"] == "literal"


@pytest.mark.parametrize(("literal", "shown"), [(True, "true"), (None, "null")])
def test_a_literal_is_shown_as_json_in_a_message(literal, shown):
    (problem,) = check([{"service": "half", "input": {"n": literal}}]).problems
    assert f"the literal {shown} is" in problem["message"]


@pytest.mark.parametrize(
    ("service_name", "literal"),
    [
        ("half", 3),
        ("scale", 3),
        ("scale", 0.5),
        ("flag", False),
        ("upper", {"const": "fixed"}),
    ],
)
def test_a_literal_of_a_fitting_type_flows(service_name, literal):
    name = SERVICES[service_name]["inputs"][0]["name"]
    analysis = check([{"service": service_name, "input": {name: literal}}])
    assert analysis.problems == []
    value = literal["const"] if isinstance(literal, dict) else literal
    assert analysis.lineage["steps"][0]["inputs"] == {name: {"from": "literal", "value": value}}


def test_a_workflow_output_of_the_wrong_type_is_a_type_mismatch():
    analysis = check(["counter"], inputs=[field("text")], outputs=[field("count")])
    assert analysis.problems == [
        {
            "code": TYPE_MISMATCH,
            "message": "Workflow output 'count' is declared string, but it is int "
            "(from output 'count' of step 0 (counter)).",
            "output": "count",
            "expected": "string",
            "found": "int",
            "origin": from_step(0, "counter", "count"),
        }
    ]


def test_a_workflow_output_may_widen_an_int_to_a_float():
    analysis = check(["counter"], inputs=[field("text")], outputs=[field("count", "float")])
    assert analysis.problems == []


# impossible_path


def test_a_path_into_a_string_input_is_impossible():
    analysis = check([{"service": "upper", "input": {"message": "text.first"}}], [field("text")])
    assert analysis.problems == [
        {
            "code": IMPOSSIBLE_PATH,
            "message": "Step 0 (upper): input 'message' reads 'text.first', which cannot exist: "
            "'text' is string (from workflow input).",
            "step": 0,
            "service": "upper",
            "field": "message",
            "source": "text.first",
            "found": "string",
        }
    ]


def test_a_path_into_a_step_output_of_a_scalar_type_is_impossible():
    (problem,) = check(
        ["counter", {"service": "upper", "input": {"message": "count.0"}}],
        inputs=[field("text")],
    ).problems
    assert problem["code"] == IMPOSSIBLE_PATH
    assert problem["message"] == (
        "Step 1 (upper): input 'message' reads 'count.0', which cannot exist: "
        "'count' is int (from output 'count' of step 0 (counter))."
    )


@pytest.mark.parametrize("path", ["user.name", "user.address.city", "tags.0", "tags.0.label"])
def test_a_path_into_an_object_or_array_is_accepted(path):
    analysis = check(
        ["profile", {"service": "greet", "input": {"name": path}}],
        inputs=[field("id", "int")],
    )
    assert analysis.problems == []
    head = path.split(".")[0]
    assert analysis.lineage["steps"][1]["inputs"]["name"] == {
        **from_step(0, "profile", head),
        "path": path,
    }


def test_a_path_into_an_object_input_accepted_for_any_type():
    analysis = check(
        [{"service": "half", "input": {"n": "options.n"}}], [field("options", "object")]
    )
    assert analysis.problems == []
    assert analysis.lineage["steps"][0]["inputs"]["n"] == {
        "from": "input",
        "field": "options",
        "path": "options.n",
    }


def test_an_output_mapping_from_an_undeclared_output_is_impossible():
    analysis = check(
        [{"service": "upper", "output": {"shout": "loud"}}],
        inputs=[field("message")],
        outputs=[field("shout")],
    )
    assert analysis.problems == [
        {
            "code": IMPOSSIBLE_PATH,
            "message": "Step 0 (upper): output 'shout' maps 'loud', which cannot exist: "
            "upper declares no output 'loud' (it declares: message).",
            "step": 0,
            "service": "upper",
            "field": "shout",
            "source": "loud",
        }
    ]
    assert analysis.warnings == [
        {
            "output": "shout",
            "message": "Workflow output 'shout' is produced by nothing; events will not have it.",
        }
    ]


def test_an_output_mapping_into_a_string_output_is_impossible():
    analysis = check(
        [{"service": "upper", "output": {"first": "message.0"}}], inputs=[field("message")]
    )
    assert analysis.problems == [
        {
            "code": IMPOSSIBLE_PATH,
            "message": "Step 0 (upper): output 'first' maps 'message.0', which cannot exist: "
            "'message' is string.",
            "step": 0,
            "service": "upper",
            "field": "first",
            "source": "message.0",
            "found": "string",
        }
    ]


def test_an_output_mapping_into_an_object_gives_a_value_of_any_type():
    analysis = check(
        [
            {"service": "profile", "output": {"n": "user.age", "message": "user.name"}},
            "half",
            "upper",
        ],
        inputs=[field("id", "int")],
    )
    assert analysis.problems == []
    assert analysis.lineage["steps"][1]["inputs"]["n"] == from_step(0, "profile", "user.age")
    assert analysis.lineage["steps"][2]["inputs"]["message"] == from_step(0, "profile", "user.name")


def test_an_output_mapping_keeps_only_what_it_names():
    (problem,) = check(
        [
            {"service": "profile", "output": {"user": "user"}},
            {"service": "counter", "input": {"text": "nick"}},
        ],
        inputs=[field("id", "int")],
    ).problems
    assert problem["code"] == UNSATISFIED
    assert set(problem["available"]) == {"id", "user"}


# unknown_input


def test_an_input_mapping_for_an_input_the_service_does_not_take_is_unknown():
    analysis = check(
        [{"service": "upper", "input": {"message": "text", "mood": "text", "colour": 1}}],
        inputs=[field("text")],
    )
    assert analysis.problems == [
        {
            "code": UNKNOWN_INPUT,
            "message": "Step 0 (upper): the input mapping names 'colour', which upper does not "
            "take (it takes: message).",
            "step": 0,
            "service": "upper",
            "field": "colour",
        },
        {
            "code": UNKNOWN_INPUT,
            "message": "Step 0 (upper): the input mapping names 'mood', which upper does not "
            "take (it takes: message).",
            "step": 0,
            "service": "upper",
            "field": "mood",
        },
    ]


def test_an_unknown_input_of_a_service_taking_nothing():
    (problem,) = check([{"service": "clock", "input": {"zone": {"const": "UTC"}}}]).problems
    assert problem["message"] == (
        "Step 0 (clock): the input mapping names 'zone', which clock does not take "
        "(it takes: nothing)."
    )


# invalid_definition: a definition is parsed before it is checked (contracts.analyse), and the
# parser says where it first breaks the language; nothing is walked then.

CONST_ONLY = (
    'An object here is one of: a path (a string), a literal ({"const": value}, or any JSON '
    'value but a string or an object), {"object": {name: source, ...}}, {"array": [source, '
    '...]} or {"fn": name, "args": [source, ...]}; a string is a path into the running data.'
)
NOTHING_WALKED = {"steps": [], "outputs": {}}


def analyse_definition(steps, inputs=(), outputs=(), operations=()):
    """The analysis of a workflow definition (a document) over SERVICES (documents)."""
    return analyse(definition_of(steps, inputs, outputs, operations), SERVICES)


def test_a_definition_that_parses_is_checked():
    analysis = analyse_definition(
        ["upper", "counter"], inputs=[field("message")], outputs=[field("count", "int")]
    )
    expected = check(["upper", "counter"], [field("message")], [field("count", "int")])
    assert [problem["code"] for problem in analysis.problems] == [UNSATISFIED]
    assert (analysis.problems, analysis.warnings, analysis.lineage) == (
        expected.problems,
        expected.warnings,
        expected.lineage,
    )


def test_invalid_operations_are_an_invalid_definition_at_their_place():
    analysis = analyse_definition(
        ["upper"],
        inputs=[field("message")],
        operations=[{"remove": ["x"]}, {"set": {"x": 1}, "rename": {"a": "b"}}],
    )
    assert analysis.problems == [
        {
            "code": INVALID,
            "message": "Operation 1 has exactly one of set, rename, remove, pick, and 'after'.",
            "place": "operations[1]",
        }
    ]
    assert analysis.warnings == []
    assert analysis.lineage == NOTHING_WALKED


def test_operations_that_are_not_a_list_are_an_invalid_definition():
    (problem,) = analyse_definition(
        ["upper"], [field("message")], operations={"remove": ["message"]}
    ).problems
    assert problem == {
        "code": INVALID,
        "message": "operations is a list of operations.",
        "place": "operations",
    }


def test_an_invalid_step_is_the_only_problem_reported():
    analysis = analyse_definition(
        [{"service": "upper", "input": {"message": {"value": 1}}}, "counter"],
        inputs=[field("text")],
    )
    assert analysis.problems == [{"code": INVALID, "message": CONST_ONLY, "place": "services[0]"}]
    assert analysis.lineage == NOTHING_WALKED


def test_a_step_without_a_service_is_reported_in_words():
    (problem,) = analyse_definition(
        ["upper", {"input": {"message": "message"}}], inputs=[field("message")]
    ).problems
    assert problem == {
        "code": INVALID,
        "message": (
            'A step names its service ({"service": name, ...}) or is a choice, parallel, '
            "map or wait."
        ),
        "place": "services[1]",
    }


@pytest.mark.parametrize(
    ("steps", "operations", "place", "message"),
    [
        (
            [{"service": "upper", "input": {"message": "a..b"}}],
            [],
            "services[0]",
            "'a..b' has an empty name; write 'a.b', not 'a..b' or '.a'.",
        ),
        (
            ["upper"],
            [{"set": {"x": "a..b"}}],
            "operations[0]",
            "Operation 0: 'a..b' has an empty name; write 'a.b', not 'a..b' or '.a'.",
        ),
    ],
)
def test_a_malformed_path_is_an_invalid_definition(steps, operations, place, message):
    analysis = analyse_definition(steps, inputs=[field("message")], operations=operations)
    assert analysis.problems == [{"code": INVALID, "message": message, "place": place}]


def test_a_broken_step_is_reported_before_a_broken_operation():
    analysis = analyse_definition([{"input": {}}, "half"], operations=[{"pick": []}])
    assert [(p["code"], p["place"]) for p in analysis.problems] == [(INVALID, "services[0]")]


def test_service_names_lists_the_service_of_each_entry_in_order():
    entries = ["upper", {"service": "counter", "input": {"text": "message"}}, "upper"]
    assert service_names(entries) == ["upper", "counter", "upper"]
    assert service_names([]) == []


# warnings


def test_a_workflow_output_nothing_produces_is_a_warning_not_a_problem():
    analysis = check(
        ["upper"],
        inputs=[field("message")],
        outputs=[field("message"), field("count", "int")],
    )
    assert analysis.ok
    assert analysis.problems == []
    assert analysis.warnings == [
        {
            "output": "count",
            "message": "Workflow output 'count' is produced by nothing; events will not have it.",
        }
    ]
    assert analysis.lineage["outputs"] == {
        "message": from_step(0, "upper", "message"),
        "count": None,
    }


def test_a_workflow_output_may_come_straight_from_the_inputs():
    analysis = check(["counter"], inputs=[field("text")], outputs=[field("text")])
    assert analysis.warnings == []
    assert analysis.lineage["outputs"] == {"text": {"from": "input", "field": "text"}}


# Operations change what is available


def test_a_rename_makes_the_old_name_unavailable_to_a_later_step():
    analysis = check(
        ["upper", "reverse"],
        inputs=[field("message")],
        operations=[{"rename": {"message": "text"}, "after": 0}],
    )
    assert analysis.problems == [
        {
            "code": UNSATISFIED,
            "message": "Step 1 (reverse): input 'message' (string) can be satisfied by nothing: "
            "'message' is not in the running data here, which holds "
            "text (string, output 'message' of step 0 (upper)).",
            "step": 1,
            "service": "reverse",
            "field": "message",
            "expected": "string",
            "source": "message",
            "available": {
                "text": {"type": "string", "from": "output 'message' of step 0 (upper)"},
            },
        }
    ]


def test_a_rename_makes_the_new_name_available_with_its_origin():
    analysis = check(
        ["counter"],
        inputs=[field("message")],
        operations=[{"rename": {"message": "text"}, "after": "inputs"}],
    )
    assert analysis.problems == []
    assert analysis.lineage["steps"][0]["inputs"] == {"text": INPUT}


def test_a_rename_swap_swaps_the_types():
    analysis = check(
        ["half", "counter"],
        inputs=[field("n", "int"), field("text")],
        operations=[{"rename": {"n": "text", "text": "n"}, "after": "inputs"}],
    )
    assert [(p["code"], p["field"], p["found"]) for p in analysis.problems] == [
        (TYPE_MISMATCH, "n", "string"),
        (TYPE_MISMATCH, "text", "int"),
    ]


def test_renaming_a_name_that_is_not_there_is_unsatisfied():
    analysis = check(
        ["upper"], inputs=[field("message")], operations=[{"rename": {"nope": "text"}}]
    )
    assert analysis.problems == [
        {
            "code": UNSATISFIED,
            "message": "Operation 0 (rename): there is no 'nope' to rename here; the running data "
            "holds message (string, output 'message' of step 0 (upper)).",
            "operation": 0,
            "field": "nope",
            "available": {
                "message": {"type": "string", "from": "output 'message' of step 0 (upper)"},
            },
        }
    ]


@pytest.mark.parametrize(
    ("literal", "problems"),
    [
        (4, []),
        ({"const": 4}, []),
        (4.5, [(TYPE_MISMATCH, "float")]),
        (True, [(TYPE_MISMATCH, "bool")]),
    ],
)
def test_a_set_from_a_literal_adds_a_typed_name(literal, problems):
    analysis = check(["half"], operations=[{"set": {"n": literal}, "after": "inputs"}])
    assert [(p["code"], p["found"]) for p in analysis.problems] == problems
    assert analysis.lineage["steps"][0]["inputs"] == {"n": {"from": "operation", "operation": 0}}


def test_a_literal_set_by_an_operation_is_named_in_a_type_mismatch():
    (problem,) = check(["half"], operations=[{"set": {"n": 4.5}, "after": "inputs"}]).problems
    assert problem["message"] == (
        "Step 0 (half): input 'n' expects int, but 'n' is float (from operation 0)."
    )
    assert problem["origin"] == {"from": "operation", "operation": 0}


def test_a_literal_set_after_a_path_in_the_same_operation_comes_from_the_operation():
    analysis = check(
        ["half"],
        inputs=[field("message")],
        outputs=[field("copy"), field("n", "int")],
        operations=[{"set": {"copy": "message", "n": 4.5}, "after": "inputs"}],
    )
    (problem,) = analysis.problems
    assert problem["message"] == (
        "Step 0 (half): input 'n' expects int, but 'n' is float (from operation 0)."
    )
    assert problem["origin"] == {"from": "operation", "operation": 0}
    assert analysis.lineage["outputs"]["copy"] == INPUT


def test_a_set_from_a_path_passes_the_origin_on():
    analysis = check(
        ["counter"],
        inputs=[field("message")],
        operations=[{"set": {"text": "message"}, "after": "inputs"}],
    )
    assert analysis.problems == []
    assert analysis.lineage["steps"][0]["inputs"] == {"text": INPUT}


def test_a_set_from_a_path_that_is_not_there_is_unsatisfied():
    analysis = check(
        ["upper"],
        inputs=[field("message")],
        operations=[{"set": {"x": "nope"}, "after": "inputs"}],
    )
    assert analysis.problems == [
        {
            "code": UNSATISFIED,
            "message": "Operation 0 (set): 'nope' is not in the running data here, which holds "
            "message (string, workflow input).",
            "operation": 0,
            "field": "x",
            "source": "nope",
            "available": {"message": {"type": "string", "from": "workflow input"}},
        }
    ]


def test_a_set_from_a_path_into_a_string_is_impossible():
    analysis = check(
        ["upper"],
        inputs=[field("message")],
        operations=[{"set": {"x": "message.a"}, "after": "inputs"}],
    )
    assert analysis.problems == [
        {
            "code": IMPOSSIBLE_PATH,
            "message": "Operation 0 (set): 'x' reads 'message.a', which cannot exist: "
            "'message' is string (from workflow input).",
            "operation": 0,
            "source": "message.a",
            "found": "string",
        }
    ]


def test_a_pick_drops_the_names_it_does_not_name():
    (problem,) = check(
        ["upper", "counter"],
        inputs=[field("message"), field("text")],
        operations=[{"pick": ["message"], "after": 0}],
    ).problems
    assert (problem["code"], problem["step"], problem["field"]) == (UNSATISFIED, 1, "text")
    assert set(problem["available"]) == {"message"}


def test_a_remove_drops_a_name():
    (problem,) = check(
        ["upper"],
        inputs=[field("message")],
        operations=[{"remove": ["message"], "after": "inputs"}],
    ).problems
    assert (problem["code"], problem["available"]) == (UNSATISFIED, {})


def test_operations_at_the_end_decide_the_workflow_outputs():
    analysis = check(
        ["counter"],
        inputs=[field("text")],
        outputs=[field("total", "int"), field("text"), field("label")],
        operations=[
            {"rename": {"count": "total"}},
            {"set": {"label": {"const": "words"}}},
            {"remove": ["text"]},
        ],
    )
    assert analysis.problems == []
    assert analysis.lineage["outputs"] == {
        "total": from_step(0, "counter", "count"),
        "text": None,
        "label": {"from": "operation", "operation": 1},
    }
    assert [warning["output"] for warning in analysis.warnings] == ["text"]


def test_lineage_follows_inputs_literals_operations_and_steps():
    analysis = check(
        [
            {"service": "greet", "input": {"name": "who", "title": {"const": "Dr"}}},
            "counter",
            {"service": "scale", "input": {"factor": "count"}},
        ],
        inputs=[field("who")],
        outputs=[field("greeting"), field("scaled", "float"), field("count", "int")],
        operations=[{"set": {"text": "greeting"}, "after": 0}, {"remove": ["count"]}],
    )
    assert analysis.problems == []
    assert analysis.lineage == {
        "steps": [
            {
                "index": 0,
                "service": "greet",
                "inputs": {
                    "name": {"from": "input", "field": "who"},
                    "title": {"from": "literal", "value": "Dr"},
                },
            },
            {
                "index": 1,
                "service": "counter",
                "inputs": {"text": from_step(0, "greet", "greeting")},
            },
            {
                "index": 2,
                "service": "scale",
                "inputs": {"factor": from_step(1, "counter", "count")},
            },
        ],
        "outputs": {
            "greeting": from_step(0, "greet", "greeting"),
            "scaled": from_step(2, "scale", "scaled"),
            "count": None,
        },
    }


@pytest.mark.parametrize(
    ("origin", "words"),
    [
        ({"from": "input", "field": "message"}, "workflow input"),
        (from_step(2, "upper", "message"), "output 'message' of step 2 (upper)"),
        ({"from": "literal", "value": 3}, "a literal"),
        ({"from": "operation", "operation": 1}, "operation 1"),
    ],
)
def test_describe(origin, words):
    assert describe(origin) == words


def test_an_optional_step_output_feeding_a_required_input_is_a_warning():
    services = {
        "maybe": Service("maybe", "http://maybe/", outputs=(Field("n", "int", False),)),
        "needs": Service("needs", "http://needs/", inputs=(Field("n", "int"),)),
    }
    analysis = check_workflow(Workflow("w", steps=(Call(0, "maybe"), Call(1, "needs"))), services)
    assert analysis.problems == []
    assert [warning["message"] for warning in analysis.warnings] == [
        "Step 1 (needs): input 'n' is required, but 'n' may be absent "
        "(from output 'n' of step 0 (maybe), which is optional)."
    ]
