"""The executor over control flow: the cursor as a path saved after each step and resumed,
catches from the innermost out, and a parallel cut off while running."""

from machinery import states
from machinery.engine.executor import (
    Listener,
    RunState,
    StepFailed,
    advance,
    next_call,
    run_to_end,
    start,
)
from machinery.language.model import Field, Service
from machinery.language.parse import parse_workflow

N = (Field("n", "int"),)
SERVICES = {
    "inc": Service("inc", "http://inc/", inputs=N, outputs=N),
    "boom": Service("boom", "http://boom/", inputs=N, outputs=N),
    "safe": Service("safe", "http://safe/", inputs=N, outputs=N, idempotent=True),
}


def caller(address, payload, options):
    if address == "http://boom/":
        raise StepFailed(states.HTTP_STATUS, "it broke", 500)
    return 200, {"n": payload["n"] + 1}


class Recorder(Listener):
    def __init__(self):
        self.states = []
        self.records = []

    def on_step_end(self, record, state):
        self.records.append(record)
        self.states.append(state)

    def on_branch_step(self, record):
        self.records.append(record)


def workflow(steps, outputs=N):
    return parse_workflow(
        {
            "name": "w",
            "services": steps,
            "inputs": [{"name": "n", "type": "int"}],
            "outputs": [{"name": f.name, "type": f.type} for f in outputs],
        }
    )


def test_a_state_saved_inside_a_branch_resumes_there():
    flow = workflow(
        [{"choice": [{"when": {"path": "n", "lt": 10}, "steps": ["inc", "inc"]}]}, "inc"]
    )
    recorder = Recorder()
    first = advance(flow, SERVICES, start({"n": 1}), caller, recorder)
    assert first.cursor == (0, "b0", 1)  # what the store keeps: a path
    assert next_call(flow, first.cursor).place == "services[0].choice[0].steps[1]"

    saved = {"cursor": list(first.cursor), "running": first.running}  # as MongoDB gives it back
    resumed = RunState(states.RUNNING, saved["cursor"], saved["running"])
    final = run_to_end(flow, SERVICES, resumed, caller, recorder)
    assert final.status == states.SUCCEEDED
    assert final.outputs == {"n": 4}
    assert [s.cursor for s in recorder.states] == [(0, "b0", 1), 1, 2]


def test_a_failure_goes_to_the_innermost_catch_that_takes_it():
    flow = workflow(
        [
            {
                "choice": [
                    {
                        "when": {"path": "n", "gt": 0},
                        "steps": [
                            {
                                "service": "boom",
                                "catch": [
                                    {"on": ["timeout"], "steps": [{"set": {"n": 100}}]},
                                    {"on": [500], "steps": [{"set": {"n": 10}}], "error_as": "why"},
                                ],
                            }
                        ],
                    }
                ],
                "catch": [{"steps": [{"set": {"n": 1000}}]}],
            }
        ],
        outputs=(*N, Field("why", "object")),
    )
    final = run_to_end(flow, SERVICES, start({"n": 1}), caller, Recorder())
    assert final.status == states.SUCCEEDED
    assert final.outputs["n"] == 10
    assert final.outputs["why"] == {
        "kind": "http_status",
        "message": "it broke",
        "step": 0,
        "service": "boom",
        "status_code": 500,
        "place": "services[0].choice[0].steps[0]",
    }


def test_a_failure_inside_a_catch_goes_to_the_catches_around_it_not_to_its_own():
    flow = workflow(
        [
            {
                "choice": [
                    {
                        "when": {"path": "n", "gt": 0},
                        "steps": [{"service": "boom", "catch": [{"steps": ["boom"]}]}],
                    }
                ],
                "catch": [{"steps": [{"set": {"n": 7}}]}],
            }
        ]
    )
    final = run_to_end(flow, SERVICES, start({"n": 1}), caller, Recorder())
    assert final.status == states.SUCCEEDED
    assert final.outputs == {"n": 7}


def test_a_parallel_cut_off_calls_again_only_what_may_be_called_again():
    unsafe = workflow([{"parallel": [["safe"], ["inc"]]}])
    state = advance(unsafe, SERVICES, start({"n": 1}), caller, Recorder(), may_have_been_sent=True)
    assert state.status == states.FAILED
    assert state.error["kind"] == states.INTERRUPTED
    assert (state.error["place"], state.error["within"]) == (
        "services[0].parallel[1][0]",
        "services[0]",
    )

    safe = workflow([{"parallel": [["safe"], [{"set": {"m": 1}}]]}])
    state = advance(safe, SERVICES, start({"n": 1}), caller, Recorder(), may_have_been_sent=True)
    assert state.status == states.SUCCEEDED
    assert state.outputs == {"n": 2}


def test_a_map_resumed_after_a_crash_does_not_make_again_the_calls_it_recorded():
    flow = workflow(
        [{"map": {"items": "ns", "as": "n", "steps": ["inc"], "collect": "n", "output": "out"}}],
        outputs=(Field("out", "array"),),
    )
    made = []

    def counting(address, payload, options):
        made.append(payload["n"])
        return caller(address, payload, options)

    # items 0 and 2 ended (and were recorded) before the crash; item 1's call may have been
    # in flight: inc is not idempotent, so it is not made again
    replay = {
        (0, "0"): {"index": 0, "instance": "0", "outputs": {"n": 11}, "error": None},
        (0, "2"): {"index": 0, "instance": "2", "outputs": {"n": 31}, "error": None},
    }
    state = RunState(states.RUNNING, 0, {"n": 0, "ns": [10, 20, 30]})
    ended = advance(
        flow, SERVICES, state, counting, Recorder(), may_have_been_sent=True, replay=replay
    )
    assert made == []
    assert ended.status == states.FAILED
    assert (ended.error["kind"], ended.error["instance"]) == (states.INTERRUPTED, "1")

    # with item 1 recorded too, the map ends with every answer and no call at all
    replay[(0, "1")] = {"index": 0, "instance": "1", "outputs": {"n": 21}, "error": None}
    ended = advance(
        flow, SERVICES, state, counting, Recorder(), may_have_been_sent=True, replay=replay
    )
    assert made == []
    assert ended.outputs == {"out": [11, 21, 31]}


def test_when_a_branch_fails_the_others_stop_before_their_next_step():
    flow = workflow([{"parallel": [["boom"], ["inc", "inc", "inc", "inc"]], "max_concurrency": 1}])
    recorder = Recorder()
    final = run_to_end(flow, SERVICES, start({"n": 1}), caller, recorder)
    assert final.status == states.FAILED
    assert final.error["within"] == "services[0]"
    # one branch at a time: the failing one first, so the other never starts a step
    assert [r.get("service") or r["construct"] for r in recorder.records] == ["boom", "parallel"]
