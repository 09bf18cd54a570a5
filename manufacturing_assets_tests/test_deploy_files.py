"""The deployment files agree with each other and with the code (issue 13).

Docker is not available where the tests run (no daemon, no compose plugin), so instead of
`docker compose config` the compose file is parsed and checked against the Dockerfile,
``deploy/dagster.yaml``, ``deploy/workspace.yaml`` and ``environment.py``: services,
images, commands, ports, volumes and every variable. Both ``dagster.yaml`` files are
validated against Dagster's instance schema, and the Helm values against the same limits.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config_schema
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from manufacturing_assets.instance import BACKFILL_PLANT
from manufacturing_assets_tests.ui_server import REPO

DEPLOY = REPO / "deploy"
INSTANCE_CLASS = {"module": "manufacturing_assets.instance", "class": "PlantDayInstance"}
CORE = {"postgres", "user_code", "webserver", "daemon"}
FULL = {"minio", "minio_buckets", "kafka"}
SECRET_VARS = {
    "AWS_SESSION_TOKEN",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "SNOWFLAKE_PASSWORD",
    "SNOWFLAKE_PRIVATE_KEY",
    "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
    "MA_WEBHOOK_URL",
    "MA_SLACK_TOKEN",
    "MA_SMTP_PASSWORD",
}
PREFIXES = ("MA_", "AWS_", "KAFKA_", "SNOWFLAKE_")


def load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load("docker-compose.yaml")


@pytest.fixture(scope="module")
def dockerfile() -> dict[str, Any]:
    """Instructions of deploy/Dockerfile: {instruction: [arguments, ...]} (lines joined)."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.setdefault(word.upper(), []).append(rest.strip())
    return out


def env_refs(node: Any) -> set[str]:
    """Variables of every ``{env: NAME}`` in a loaded YAML document."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*(env_refs(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(env_refs(v) for v in node)) if node else set()
    return set()


def interpolated(text: str) -> set[str]:
    """Variables compose interpolates (``${NAME...}``; ``$$`` escapes)."""
    return set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))


def environment_variables() -> set[str]:
    """Every variable environment.py documents (its table) or names in its code, and those of
    the compute-log class."""
    names: set[str] = set()
    for module in ("environment.py", "compute_logs.py"):
        src = (REPO / "manufacturing_assets" / module).read_text()
        doc = src.split('"""', 2)[1] if module == "environment.py" else ""
        for row in re.findall(r"^\| ([^|]+) \|", doc, flags=re.MULTILINE):
            names |= set(re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", row))
        for name in re.findall(r"""["']([A-Z][A-Z0-9_]+)["']""", src):
            if name.startswith(PREFIXES):
                names.add(name)
        # SnowflakeSettings.from_env: get("ACCOUNT") -> SNOWFLAKE_ACCOUNT
        for n in re.findall(r"""[^.\w]get\(["']([A-Z_]+)["']\)""", src):
            names.add(n if n.startswith(PREFIXES) else f"SNOWFLAKE_{n}")
    return {n for n in names if n.startswith(PREFIXES)}


def example_variables() -> set[str]:
    """Variables .env.example names, set or commented (``# NAME=``)."""
    text = (DEPLOY / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def validate_instance(path: Path) -> dict[str, Any]:
    config = yaml.safe_load(path.read_text())
    # `{env: NAME}` values must resolve for the schema's post-processing
    with pytest.MonkeyPatch.context() as mp:
        for name in env_refs(config):
            mp.setenv(name, "5432" if name.endswith("PORT") else "x")
        result = process_config(dagster_instance_config_schema(), config)
    assert result.success, [e.message for e in result.errors]
    return config


# ------------------------------------------------------------------ dagster.yaml files


@pytest.mark.parametrize("path", [REPO / "dagster.yaml", DEPLOY / "dagster.yaml"], ids=str)
def test_instance_files_are_valid_and_current(path: Path) -> None:
    config = validate_instance(path)
    assert config["instance_class"] == INSTANCE_CLASS
    # the current form: `concurrency:` (no run_coordinator block, no deprecated op limit)
    assert "run_coordinator" not in config
    assert "default_op_concurrency_limit" not in config["concurrency"]
    runs = config["concurrency"]["runs"]
    assert {"key": "kafka_landing", "limit": 1} in runs["tag_concurrency_limits"]
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["run_retries"]["enabled"] and config["run_monitoring"]["enabled"]
    assert config["freshness"] == {"enabled": True}


def test_deploy_instance_on_postgres_with_secrets_from_env_only() -> None:
    config = validate_instance(DEPLOY / "dagster.yaml")
    db = config["storage"]["postgres"]["postgres_db"]
    assert db["password"] == {"env": "DAGSTER_POSTGRES_PASSWORD"}
    assert all(isinstance(v, dict) and set(v) == {"env"} for k, v in db.items() if k != "scheme")
    assert config["compute_logs"]["module"] == "manufacturing_assets.compute_logs"
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {
        "key": "dagster/backfill",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 2,
    } in limits
    assert {  # one backfill run per plant at a time (the tag: manufacturing_assets/instance.py)
        "key": BACKFILL_PLANT,
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    } in limits


# ------------------------------------------------------------------ compose


def test_compose_services_images_and_commands(compose, dockerfile) -> None:
    services = compose["services"]
    assert set(services) == CORE | FULL
    assert all("profiles" not in services[s] for s in CORE)
    assert all(services[s]["profiles"] == ["full"] for s in FULL)

    # one image: built from the Dockerfile (context: the repository root) by user_code
    build = services["user_code"]["build"]
    assert (DEPLOY / build["context"]).resolve() == REPO
    assert (REPO / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    image = services["user_code"]["image"]
    assert services["webserver"]["image"] == services["daemon"]["image"] == image

    # the Dockerfile: non-root, pinned dependencies, gRPC code server as entry point
    assert dockerfile["USER"] == ["dagster"]
    assert any("useradd" in r and "dagster" in r for r in dockerfile["RUN"])
    assert any("--constraint /opt/dagster/constraints.txt" in r for r in dockerfile["RUN"])
    for copy in dockerfile["COPY"]:
        *sources, _ = copy.split()
        for src in sources:
            assert (REPO / src).exists(), src
    entry = yaml.safe_load(dockerfile["ENTRYPOINT"][0])
    assert entry[:3] == ["dagster", "api", "grpc"]
    args = dict(zip(entry[3::2], entry[4::2], strict=True))
    assert args["-m"] == "manufacturing_assets.definitions"
    assert dockerfile["EXPOSE"] == [args["-p"]]
    home = re.search(r"DAGSTER_HOME=(\S+)", " ".join(dockerfile["ENV"])).group(1)  # type: ignore[union-attr]
    assert any(
        c.split()[-1].rstrip("/") == home and "deploy/dagster.yaml" in c for c in dockerfile["COPY"]
    )

    # webserver and daemon: the same workspace, which points at user_code's port
    workspace = f"{home}/workspace.yaml"
    assert services["webserver"]["entrypoint"] == [
        *("dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", workspace)
    ]
    assert services["webserver"]["ports"] == ["${MA_WEBSERVER_PORT:-3000}:3000"]
    assert services["daemon"]["entrypoint"] == ["dagster-daemon", "run", "-w", workspace]
    for name in ("webserver", "daemon", "user_code"):
        env = services[name]["environment"]
        assert env["DAGSTER_GRPC_HOST"] == "user_code"
        assert env["DAGSTER_GRPC_PORT"] == args["-p"]
        assert env["DAGSTER_POSTGRES_HOST"] == "postgres"
    health = services["user_code"]["healthcheck"]["test"]
    assert health[1:] == ["dagster", "api", "grpc-health-check", "-p", args["-p"]]

    # local compute logs: written by runs in user_code, read by the webserver
    storage = f"storage:{home}/storage"
    assert storage in services["user_code"]["volumes"]
    assert storage in services["webserver"]["volumes"]


def test_compose_variables_match_the_instance_and_the_code(compose) -> None:
    services = compose["services"]
    text = (DEPLOY / "docker-compose.yaml").read_text()
    instance_vars = env_refs(load("dagster.yaml")) | env_refs(load("workspace.yaml"))
    assert {"DAGSTER_POSTGRES_PASSWORD", "DAGSTER_GRPC_HOST"} <= instance_vars
    for name in ("webserver", "daemon", "user_code"):
        assert instance_vars <= set(services[name]["environment"]), name

    # PostgreSQL is created with the credentials the instance connects with
    pg = services["postgres"]["environment"]
    inst = services["daemon"]["environment"]
    for pg_var, inst_var in [
        ("POSTGRES_USER", "DAGSTER_POSTGRES_USER"),
        ("POSTGRES_PASSWORD", "DAGSTER_POSTGRES_PASSWORD"),
        ("POSTGRES_DB", "DAGSTER_POSTGRES_DB"),
    ]:
        assert interpolated(pg[pg_var]) == interpolated(inst[inst_var]) == {inst_var}

    # user_code reads every setting of environment.py from .env; only it gets the secrets
    assert services["user_code"]["env_file"] == ".env"
    for name in ("webserver", "daemon"):
        assert not SECRET_VARS & set(services[name]["environment"]), name
        assert "env_file" not in services[name]

    # .env.example names every variable of environment.py and every one compose interpolates
    names = environment_variables()
    assert {"MA_LANDING_ROOT", "AWS_SECRET_ACCESS_KEY", "KAFKA_SASL_PASSWORD"} <= names
    assert {"SNOWFLAKE_ACCOUNT", "SNOWFLAKE_NETWORK_TIMEOUT", "MA_COMPUTE_LOGS_BUCKET"} <= names
    example = example_variables()
    assert names - example == set()
    assert interpolated(text) - example == set()
    assert (
        instance_vars
        - example
        - {
            "DAGSTER_POSTGRES_HOST",
            "DAGSTER_POSTGRES_PORT",
            "DAGSTER_GRPC_HOST",
            "DAGSTER_GRPC_PORT",
        }
        == set()
    )


def test_env_example_sets_no_secret_and_no_empty_value() -> None:
    """Optional variables are commented (an empty value is not the default), and secrets
    are never given a value in the example (the PostgreSQL password is a placeholder)."""
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.partition("=")
        assert value.strip(), f"{name} is set but empty"
        assert name not in SECRET_VARS | {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, name
    assert "DAGSTER_POSTGRES_PASSWORD=change-me" in (DEPLOY / ".env.example").read_text()


# ------------------------------------------------------------------ pins, Helm


def test_constraints_pin_the_project_dependencies() -> None:
    pins = dict(
        line.split("==")
        for line in (DEPLOY / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    required = [Requirement(r) for r in project["dependencies"]]
    assert len(required) >= 15
    for req in required:
        key = canonicalize_name(req.name)
        assert key in pins, f"{req.name} is not pinned in deploy/constraints.txt"
        assert req.specifier.contains(pins[key]), (str(req), pins[key])
    assert pins["dagster-postgres"] == "0.29.27" and "psycopg2-binary" in pins


def test_helm_values_match_the_instance() -> None:
    values = load("helm/values.yaml")
    deploy = load("dagster.yaml")
    (user,) = values["dagster-user-deployments"]["deployments"]
    assert user["dagsterApiGrpcArgs"] == ["-m", "manufacturing_assets.definitions"]
    assert {"name": "manufacturing-assets-secrets"} in user["envSecrets"]
    assert user["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"
    extra = values["additionalInstanceConfig"]
    assert extra["instance_class"] == INSTANCE_CLASS
    assert extra["run_retries"] == deploy["run_retries"]
    assert extra["freshness"] == deploy["freshness"]
    runs, pools = values["concurrency"]["runs"], values["concurrency"]["pools"]
    assert runs["maxConcurrentRuns"] == deploy["concurrency"]["runs"]["max_concurrent_runs"]
    assert runs["tagConcurrencyLimits"] == deploy["concurrency"]["runs"]["tag_concurrency_limits"]
    assert pools == {
        "defaultLimit": deploy["concurrency"]["pools"]["default_limit"],
        "granularity": deploy["concurrency"]["pools"]["granularity"],
    }
    daemon = values["dagsterDaemon"]
    assert daemon["runMonitoring"]["enabled"] and daemon["runCoordinator"]["enabled"]
    images = {
        values["dagsterWebserver"]["image"]["repository"],
        daemon["image"]["repository"],
        user["image"]["repository"],
    }
    assert len(images) == 1, "webserver and daemon need the project's image"


def test_readme_commands_use_the_files_here() -> None:
    readme = (DEPLOY / "README.md").read_text().replace("\\\n", " ")
    for command in re.findall(r"^\s{4,}(docker compose .*|helm .*)$", readme, re.MULTILINE):
        words = shlex.split(command.split("#")[0])
        for i, word in enumerate(words):
            if word in ("-f", "--values") and words[i + 1].startswith("deploy/"):
                assert (REPO / words[i + 1]).exists(), command
    assert "cp deploy/.env.example deploy/.env" in readme
