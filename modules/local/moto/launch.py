"""moto_server made to answer as AWS does where the platform depends on it.

Started by `local::Moto` as `.venv/bin/python launch.py -H 127.0.0.1 -p PORT`; by
`Moto::start_iam` with INITIAL_NO_AUTH_ACTION_COUNT set: after that many requests moto checks
every request's SigV4 signature and the caller's IAM policies. moto 5.2.5 gets a few things
wrong; this launcher patches them in memory (nothing under site-packages is edited) and then
runs moto's own `moto.server.main`. Each patch says what it fixes and what it gives up.
Patches 1-5 act only when IAM is enforced; patches 6 and 7 always.

1. Signatures are recomputed over the raw body. moto re-signs with the *parsed* request:
   a body-less GET/DELETE is re-signed with the headers dict (or the query string)
   form-encoded as the payload, and a form body is re-encoded by botocore (space as `+`,
   where the Rust SDK sends `%20`). Both give SignatureDoesNotMatch for correct requests:
   Terraform's reads and deletes (lambda, apigateway, apigatewayv2) and the Rust SDK's
   query-protocol calls with spaces (SNS Publish). The WSGI entry keeps the exact bytes
   the client sent, and the signature check uses them.
2. sts:AssumeRole on a role whose trust policy has only a Service principal
   (`lambda.amazonaws.com`) crashes (500 TypeError: moto only reads `Principal.AWS`). The
   harness plays the Lambda service and assumes each function's execution role, so a
   statement without an `AWS` principal trusts the caller (who still needs sts:AssumeRole
   in its own policies). Trust policies are therefore not really checked.
3. moto knows the resource of a request only for SQS (queue ARN), S3 (bucket/key), IAM
   roles and STS AssumeRole; everything else is checked against the literal resource "*",
   so an ARN-scoped statement (least privilege: what the platform renders) denies
   DynamoDB, SNS, EventBridge, CloudWatch... calls. Where moto passes "*", a statement's
   Resource matches whatever it says: those services are checked on the action only
   (resource scoping is unchecked there; SQS and S3 ARNs still are).
4. The action is `<SigV4 signing name>:<operation>`, which is not always IAM's name:
   CloudWatch signs as `monitoring`, the WebSocket management API's operations are all
   `execute-api:ManageConnections` in IAM, and SQS's and SNS's batch operations are authorised
   by the single-message actions. Those are renamed to IAM's names.

5. dynamodb:DescribeEndpoints is denied unless granted. DynamoDB skips its authorization on
   the public endpoints (developer guide, "Securing DynamoDB connections using VPC endpoints
   and IAM policies"); the functions call it at init to open their connection. It is
   allowed, as moto already allows sts:GetCallerIdentity.

6. PartiQL INSERT as DynamoDB runs it. moto 5.2.5's parser takes no `?` parameters in an
   INSERT (a TypeError, so a 500), copies every item of every table for each statement, and
   overwrites an existing item where DynamoDB answers DuplicateItem ("PartiQL insert
   statements for DynamoDB"). A BatchExecuteStatement made only of parameterised INSERTs
   (`INSERT INTO "table" VALUE {'name': ?, ...}`, what queue-processor sends) is run here:
   parameters bound in order, an existing key refused with DuplicateItem, the item written
   with moto's own put (its type checks, its stream record). Any other statement runs as
   moto runs it. IAM authorises such a batch as dynamodb:PartiQLInsert ("IAM security
   policies with PartiQL for DynamoDB"), which patch 4 names.

7. DynamoDB writes one at a time. moto's server runs each request on a thread of its own, and
   its writes take no lock: a conditional put reads the item, checks, then writes, and a
   stream record is numbered `len(records)` before it is appended. Concurrent writers
   (INSERT batches above all) then get two items past one condition, and two stream records
   one sequence number; DynamoDB checks a condition and writes atomically per item, and
   "each stream record appears exactly once in the stream" ("Change data capture for
   DynamoDB Streams"). A stream reader is hurt most: moto's iterator after a repeated number
   points at that record again, so a poller at the end of the stream reads it forever. Every
   write and stream record is taken under one lock, so moto's writes are serial (no witness
   of throughput).

moto never checks Conditions, KMS key use or key policies, resource policies or
iam:PassRole; a missing grant of those kinds does not fail locally.
"""

import functools
import io
import json
import re
import sys
import threading

from botocore.awsrequest import AWSRequest

import moto.iam.access_control as ac
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_request = threading.local()

# 1. Keep the raw body (werkzeug consumes a form body while parsing it). The dev server
# runs each request on its own thread, start to end, so a thread-local is the request's.
_original_call = DomainDispatcherApplication.__call__


def _call_keeping_body(self, environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    _request.body = body
    return _original_call(self, environ, start_response)


DomainDispatcherApplication.__call__ = _call_keeping_body


def _create_aws_request(self):
    signed = self._get_string_between(
        "SignedHeaders=", ",", self._headers["Authorization"]
    ).split(";")
    headers = self._create_headers_for_aws_request(signed, self._headers)
    data = getattr(_request, "body", None)
    if data is None:  # not through the WSGI entry: moto's own behaviour
        data = self._body or self._data
    request = AWSRequest(method=self._method, url=self._path, data=data, headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    return request


ac.IAMRequestBase._create_aws_request = _create_aws_request

# 2. A trust statement (sts:AssumeRole) with no `AWS` principal (a Service principal) trusts
# the caller; other resource policies (S3 bucket policies) keep moto's own principal check.
_original_check_principal = ac.IAMPolicyStatement._check_principal


def _check_principal(self, principal):
    expected = self._statement.get("Principal")
    actions = self._statement.get("Action") or []
    actions = [actions] if isinstance(actions, str) else actions
    if isinstance(expected, dict) and "AWS" not in expected and "sts:AssumeRole" in actions:
        return True
    return _original_check_principal(self, principal)


ac.IAMPolicyStatement._check_principal = _check_principal

# 3. An unknown resource ("*") matches any Resource element.
_original_matches = ac.IAMPolicyStatement._check_element_matches


def _check_element_matches(self, element, value):
    if element == "Resource" and value == "*":
        return True
    return _original_matches(self, element, value)


ac.IAMPolicyStatement._check_element_matches = _check_element_matches

# 4. IAM's action names.
_RENAMED = {
    "execute-api:PostToConnection": "execute-api:ManageConnections",
    "execute-api:GetConnection": "execute-api:ManageConnections",
    "execute-api:DeleteConnection": "execute-api:ManageConnections",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    # sns:Publish authorises Publish and PublishBatch (the SNS developer guide's "Amazon SNS
    # API permissions: Actions and resources reference").
    "sns:PublishBatch": "sns:Publish",
}
_original_init = ac.IAMRequestBase.__init__


def _init(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    action = _RENAMED.get(self._action, self._action)
    if action == "dynamodb:BatchExecuteStatement" and _only_inserts(_request_json()):
        action = "dynamodb:PartiQLInsert"
    if action.startswith("monitoring:"):
        action = "cloudwatch:" + action[len("monitoring:"):]
    self._action = action


ac.IAMRequestBase.__init__ = _init

# 5. Calls AWS does not authorise.
_UNAUTHORISED = {"dynamodb:DescribeEndpoints"}
_original_check_action_permitted = ac.IAMRequestBase.check_action_permitted


def _check_action_permitted(self, resource):
    if self._action in _UNAUTHORISED:
        return
    _original_check_action_permitted(self, resource)


ac.IAMRequestBase.check_action_permitted = _check_action_permitted

# 6. Parameterised PartiQL INSERT batches.
_INSERT = re.compile(
    r"\s*INSERT\s+INTO\s+\"((?:[^\"]|\"\")+)\"\s+VALUE\s+\{(.*)\}\s*", re.S | re.I
)
_PLACEHOLDER = r"\s*'((?:[^']|'')*)'\s*:\s*\?\s*"
_PLACEHOLDERS = re.compile(rf"{_PLACEHOLDER}(?:,{_PLACEHOLDER})*")
_NAME = re.compile(_PLACEHOLDER)


def _request_json():
    try:
        return json.loads(getattr(_request, "body", b"") or b"{}")
    except ValueError:
        return {}


def _parameterised_insert(statement):
    """(table, item) for `INSERT INTO "t" VALUE {'a': ?, ...}` with its parameters, else None."""
    match = _INSERT.fullmatch(statement.get("Statement", ""))
    if match is None or not _PLACEHOLDERS.fullmatch(match.group(2)):
        return None
    names = [name.replace("''", "'") for name in _NAME.findall(match.group(2))]
    parameters = statement.get("Parameters") or []
    if len(names) != len(parameters):
        return None
    return match.group(1).replace('""', '"'), dict(zip(names, parameters))


def _only_inserts(body):
    statements = body.get("Statements") or []
    return bool(statements) and all(_parameterised_insert(s) for s in statements)


def _error_code(error):
    code = error.error_type.split("#")[-1]
    return "ValidationError" if code == "ValidationException" else code.removesuffix("Exception")


_original_batch_execute_statement = DynamoDBBackend.batch_execute_statement


def _batch_execute_statement(self, statements):
    if not _only_inserts({"Statements": statements}):
        return _original_batch_execute_statement(self, statements)
    responses = []
    for statement in statements:
        table_name, item = _parameterised_insert(statement)
        table = self.tables.get(table_name)
        if table is None:
            error = {"Code": "ResourceNotFound", "Message": "Requested resource not found"}
            responses.append({"Error": error})
            continue
        try:
            # moto's own put: its validation, then the key condition, then the stream record.
            table.put_item(
                item,
                condition_expression="attribute_not_exists(#k)",
                expression_attribute_names={"#k": table.hash_key_attr},
            )
            responses.append({"TableName": table_name})
        except ConditionalCheckFailed:
            error = {"Code": "DuplicateItem", "Message": "Duplicate primary key exists in table"}
            responses.append({"TableName": table_name, "Error": error})
        except JsonRESTError as e:
            error = {"Code": _error_code(e), "Message": e.message}
            responses.append({"TableName": table_name, "Error": error})
    return responses


DynamoDBBackend.batch_execute_statement = _batch_execute_statement

# 7. One DynamoDB write at a time (reentrant: a backend write calls the table's, which adds
# the stream record).
_dynamodb_writes = threading.RLock()


def _one_at_a_time(cls, name):
    original = getattr(cls, name)

    @functools.wraps(original)
    def serialised(*args, **kwargs):
        with _dynamodb_writes:
            return original(*args, **kwargs)

    setattr(cls, name, serialised)


for _cls, _name in [
    (Table, "put_item"),
    (Table, "delete_item"),
    (DynamoDBBackend, "update_item"),
    (DynamoDBBackend, "delete_item"),
    (DynamoDBBackend, "transact_write_items"),
    (StreamShard, "add"),
]:
    _one_at_a_time(_cls, _name)

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
