"""Secrets never logged: the values of secret-looking keys, and the password in a URI, are masked
wherever a run writes its config or command line (params, tags, config.yaml, Hydra's saved
configs, checkpoints, the console, error lines).

Pass credentials the way MLflow and the databases read them instead: MLFLOW_TRACKING_USERNAME /
MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN, ~/.pgpass, cloud credentials from the
environment. A value masked here is still used as given; only what is written is masked.
"""

import logging
import re
from pathlib import Path
from typing import Any

# A key is secret when one of its words (split at _ and -, case ignored) is one of these, or it
# ends in one of the two-word names: db.password, API_TOKEN, aws_secret_access_key, my-api-key;
# not max_tokens or tokenizer.
SECRET_WORDS = {
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "credential",
    "credentials",
}
SECRET_ENDINGS = ("api_key", "access_key", "private_key", "auth_key")
MASK = "***"

# scheme://user:password@, also as Hydra's log escapes it: scheme\://user\:password@
_URI_PASSWORD = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*\\?://[^:/@\s\\]*)(?P<sep>\\?:)(?P<password>[^@/\s]+)@"
)
# key=value in a command line or an override (+db.password=..., api-token=...)
_ASSIGNMENT = re.compile(r"(?P<key>[\w.\-+~]+)=(?P<value>[^\s'\"]+)")


def is_secret_key(key: object) -> bool:
    last = str(key).rsplit(".", 1)[-1].lower().replace("-", "_").lstrip("+~")
    return bool(SECRET_WORDS & set(last.split("_"))) or last.endswith(SECRET_ENDINGS)


def mask_text(text: str) -> str:
    """URI passwords (scheme://user:***@host) and secret key=value assignments masked."""
    text = _URI_PASSWORD.sub(rf"\g<head>\g<sep>{MASK}@", text)
    return _ASSIGNMENT.sub(
        lambda m: f"{m['key']}={MASK}" if is_secret_key(m["key"]) else m[0], text
    )


def mask_config(node: Any) -> Any:
    """A copy of a config container with secret values and URI passwords masked."""
    if isinstance(node, dict):
        return {
            k: (MASK if is_secret_key(k) and v not in (None, "") else mask_config(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [mask_config(v) for v in node]
    return mask_text(node) if isinstance(node, str) else node


def mask_saved_configs(folder: str | Path) -> None:
    """Mask the configs Hydra saved before the job ran (.hydra/config.yaml, hydra.yaml,
    overrides.yaml in a job's folder; multirun.yaml in a sweep's)."""
    import yaml

    # libyaml's loader where PyYAML has it: hydra.yaml takes 40 ms in pure Python, per trial.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for file in [*Path(folder).glob(".hydra/*.yaml"), *Path(folder).glob("multirun.yaml")]:
        saved = yaml.load(file.read_text(), Loader=loader)  # noqa: S506  (a safe loader)
        masked = mask_config(saved)
        if masked != saved:
            file.write_text(yaml.safe_dump(masked, sort_keys=False))


_factory_installed = False


def mask_logs() -> None:
    """Mask secrets in every log record from now on (Hydra logs each trial's overrides as it
    launches it). At record creation, not in a handler's filter: Hydra reconfigures its
    handlers at each launch."""
    global _factory_installed
    if _factory_installed:
        return
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return record

    logging.setLogRecordFactory(masked_record)
    _factory_installed = True
