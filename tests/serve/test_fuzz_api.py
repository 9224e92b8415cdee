"""Schemathesis against the server's own OpenAPI schema: a real server with a token on loopback, every operation
fuzzed with a bounded, derandomised number of examples; no 5xx, every response as the schema says (status,
content type, body), and the token really enforced (Schemathesis' ignored_auth check)."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")  # in the test extras; skipped only where it is not installed
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from media import running_server  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402 - a BaseExceptionGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

TOKEN = "fuzz-token-0c9b5e1d7a2f4386"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 30  # per operation (bounded: the suite stays short)
# A schema cannot say "a decodable image or video": every byte string is schema-valid, and an unreadable or empty
# upload is rightly answered 400 with its cause (documented in the schema).  Every other check applies.
EXCLUDED = {"POST /api/search": [positive_data_acceptance]}


@pytest.fixture(scope="module")
def fuzzed_server(shared_index, tmp_path_factory):
    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    with running_server(shared_index, log, "--max-upload-mb", "1", "--device", "cpu", "--reload-interval", "0",
                        env={"VIDSEEK_TOKEN": TOKEN}) as base:
        import httpx

        # the first duplicates request of a generation compares every key frame (seconds): done once here, so
        # that the fuzzed requests meet the same, warm server each time (hypothesis replays failures)
        assert httpx.get(base + "/api/duplicates", headers=AUTH, timeout=600).status_code == 200
        yield base


def fuzz(operation, base: str) -> list[str]:
    """Run one operation's generated cases; the failures, one line each."""
    failures: list[str] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case):
        case.call_and_validate(base_url=base, headers=AUTH, excluded_checks=EXCLUDED.get(operation.label, []))

    try:
        run()
    except (Exception, FailureGroup) as exc:  # noqa: BLE001 - reported; the other operations are fuzzed still
        failures.append(f"{operation.label}: {type(exc).__name__}: {exc}")
    return failures


def test_every_operation_keeps_to_its_schema(fuzzed_server):
    schema = schemathesis.openapi.from_url(fuzzed_server + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /api/search", "GET /api/videos/{video_id}/stream", "GET /api/keyframes/{kf_id}/thumbnail",
            "POST /api/login", "POST /api/reload"} <= labels, labels
    failures = [f for op in operations for f in fuzz(op, fuzzed_server)]
    assert not failures, "\n".join(sorted(set(failures)))
