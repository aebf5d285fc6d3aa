"""`python -m bulkmail secret rotate`: a new unsubscribe key, no link voided, no suppression lost.

The secret (output UnsubscribeSecretArn) keeps every key version, oldest first
(bulk_sender.recipient_hash). A rotation:

1. appends a new random key and marks when (`rotated_at`): new links are signed with it, links
   of the version before still verify, older ones do not;
2. re-keys the suppression table (bulk_sender.suppression.rekey): every suppression gets an item
   under its new hash, computed from its old one; the previous version's items stay for the
   functions that still hold the previous key (they read the secret again within
   KEY_CACHE_SECONDS); items two versions old are deleted. Re-running it is safe.

A second rotation within MIN_INTERVAL_SECONDS is refused: a function may still sign with the
key it would void. Message ids keep version 1's key, so campaigns re-run after a rotation are
still deduplicated.
"""

from __future__ import annotations

import json
import secrets as random_source
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import typer

from bulk_sender.recipient_hash import Keys
from bulk_sender.suppression import SuppressionTable, rekey
from bulk_sender.unsubscribe import KEY_CACHE_SECONDS
from bulkmail import target
from bulkmail.errors import CliError
from bulkmail.suppress import SECRET_OUTPUT, TABLE_OUTPUT, SecretOption, StackOption, TableOption

MIN_INTERVAL_SECONDS = 2 * KEY_CACHE_SECONDS
NEW_KEY_BYTES = 48  # 64 URL-safe characters, as long as the deployed one

app = typer.Typer(
    help="The unsubscribe secret: rotate its key without voiding a delivered link.",
    no_args_is_help=True,
)


@dataclass(frozen=True)
class Rotated:
    version: int
    copied: int
    deleted: int


def key_list(secret_string: str) -> list[str]:
    """Every key version of the secret's value, oldest first (a plain string is version 1)."""
    if not secret_string.startswith("{"):
        return [secret_string]
    return list(json.loads(secret_string)["keys"])


def rotate_secret(
    secrets: Any,
    dynamodb: Any,
    *,
    secret_arn: str,
    table: str,
    clock: Callable[[], float] = time.time,
) -> Rotated:
    """Add a key version to the secret, then re-key the suppression table (module doc)."""
    value = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
    try:
        keys, raws = Keys.from_secret(value), key_list(value)
    except (ValueError, KeyError, TypeError):
        raise CliError("the unsubscribe secret is not one this tool wrote or deployed") from None
    now = int(clock())
    if keys.rotated_at and now - keys.rotated_at < MIN_INTERVAL_SECONDS:
        wait = MIN_INTERVAL_SECONDS - (now - keys.rotated_at)
        raise CliError(
            f"the secret was rotated {now - keys.rotated_at} s ago: wait {wait} s, until every "
            "function has read the current key (a second rotation would void its links)"
        )
    raws.append(random_source.token_urlsafe(NEW_KEY_BYTES))
    new_value = json.dumps({"keys": raws, "rotated_at": now})
    secrets.put_secret_value(SecretId=secret_arn, SecretString=new_value)
    new_keys = Keys.from_secret(new_value)
    copied, deleted = rekey(SuppressionTable(dynamodb, table), new_keys)
    return Rotated(new_keys.version, copied, deleted)


@app.command("rotate")
def rotate(
    stack: StackOption = None,
    table: TableOption = None,
    secret_arn: SecretOption = None,
    local: target.LocalOption = False,
) -> None:
    """Rotate the unsubscribe key: new links get a new key, links already delivered keep
    working (the previous key is accepted), and every suppression is re-keyed.

    Example:

        python -m bulkmail secret rotate --stack BulkEmailSender
    """
    if not (table and secret_arn):
        outputs = target.outputs(stack=stack, local=local)
        if not (stack or local):
            raise CliError(
                "no secret given: use --stack NAME or --local (or --table and --secret-arn)"
            )
        missing = [key for key in (SECRET_OUTPUT, TABLE_OUTPUT) if not outputs.get(key)]
        if missing:
            raise CliError(f"the stack has no output {missing[0]} (deploy this version first)")
        table, secret_arn = outputs[TABLE_OUTPUT], outputs[SECRET_OUTPUT]
    elif local:
        target.use_local()
    done = rotate_secret(
        boto3.client("secretsmanager"), boto3.client("dynamodb"), secret_arn=secret_arn, table=table
    )
    typer.echo(
        f"rotated the unsubscribe key to version {done.version}: links of versions "
        f"{done.version - 1} and {done.version} are accepted; re-keyed {done.copied} "
        f"suppression(s), removed {done.deleted} under keys no longer read"
    )
