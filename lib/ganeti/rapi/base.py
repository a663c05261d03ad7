"""What every RAPI resource shares: HTTP errors, request parameters, the
master daemon client, mapping query rows to objects and submitting opcodes.

A resource class has one method per HTTP method it answers (GET, PUT, POST,
DELETE) and the access each needs (``GET_ACCESS`` ...): an empty list means
anyone, otherwise an authenticated user with one of the listed options.
"""

import http
import time

from ganeti import constants, errors, luxi, rapi

#: every opcode a RAPI write submits carries this source, with the resource's
#: name, in its reason trail (Ganeti's "gnt:library:rlib2:instances_name_startup")
REASON_SOURCE = "gnt:library:rlib2"


class HttpError(Exception):
    """Answered as ``{"code", "message", "explain"}`` with status ``code``."""

    def __init__(self, code, message=None, headers=None):
        Exception.__init__(self, message)
        self.code = code
        self.message = message or http.HTTPStatus(code).phrase
        self.headers = headers or {}


class RawResponse:
    """A resource's answer that is not JSON (the web UI's files, /metrics)."""

    def __init__(self, content_type, body):
        self.content_type = content_type
        self.body = body


def bad_request(message):
    return HttpError(400, message)


def not_found(message=None):
    return HttpError(404, message)


def check_type(value, exptype, descr):
    """``value`` as an ``exptype``, or 400 naming what is wrong."""
    if not isinstance(value, exptype) or (exptype is int and isinstance(value, bool)):
        raise bad_request("%s: Type is '%s', but '%s' is expected"
                          % (descr, type(value).__name__, exptype.__name__))
    return value


class Request:
    """One parsed request: the path's variable parts, the query arguments
    ({name: [values]}), the JSON body (None if there is none) and the user."""

    def __init__(self, items, query, body, user=None):
        self.items = items
        self.query = query
        self.body = body
        self.user = user


class Resource:
    GET_ACCESS = []
    PUT_ACCESS = [rapi.ACCESS_WRITE]
    POST_ACCESS = [rapi.ACCESS_WRITE]
    DELETE_ACCESS = [rapi.ACCESS_WRITE]
    #: the name in the reason trail, as Ganeti's (e.g. "instances_name_startup")
    RAPI_NAME = None

    def __init__(self, request, client_factory=luxi.Client):
        self.request = request
        self.items = request.items
        self._client_factory = client_factory
        self._client = None

    @classmethod
    def access(cls, method):
        return getattr(cls, method + "_ACCESS", None)

    # --- parameters ----------------------------------------------------------
    def query_value(self, name, default=None):
        """The last value of query argument ``name`` (as Ganeti takes it)."""
        values = self.request.query.get(name)
        return values[-1] if values else default

    def query_values(self, name):
        return list(self.request.query.get(name, []))

    def query_int(self, name, default=0):
        value = self.query_value(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise bad_request("Invalid value for the '%s' parameter (%r): an integer"
                              " is expected" % (name, value))

    def query_bool(self, name, default=False):
        return bool(self.query_int(name, int(default)))

    def use_bulk(self):
        return self.query_bool("bulk")

    def use_force(self):
        return self.query_bool("force")

    def dry_run(self):
        return self.query_bool("dry-run")

    def body_dict(self):
        """The body as a dict ({} when there is none)."""
        body = self.request.body
        if body is None:
            return {}
        return dict(check_type(body, dict, "Body contents"))

    def body_param(self, name, default=KeyError):
        body = self.body_dict()
        if name in body:
            return body[name]
        if default is KeyError:
            raise bad_request("Required parameter '%s' is missing" % name)
        return default

    # --- the master daemon -----------------------------------------------------
    def client(self):
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def query_rows(self, what, fields, names=None):
        """Rows of values (None where there is no value) of resource ``what``;
        ``names`` selects items by name (404 for an unknown one)."""
        qfilter = None
        if names is not None:
            qfilter = ["|"] + [["=", "name", n] for n in names]
        try:
            result = self.client().query(what, fields, qfilter)
        except errors.OpPrereqError as err:
            if names is not None and len(err.args) > 1 and err.args[1] == errors.ECODE_NOENT:
                raise not_found(str(err.args[0]))
            raise
        return [[value if status == 0 else None for status, value in row]
                for row in result["data"]]

    def query_one(self, what, fields, name):
        rows = self.query_rows(what, fields, [name])
        if not rows:
            raise not_found()
        return dict(zip(fields, rows[0]))

    # --- jobs ---------------------------------------------------------------
    def reason_trail(self):
        now = time.time_ns()
        trail = []
        user_reason = self.query_value("reason")
        if user_reason:
            trail.append(["gnt:user", user_reason, now])
        trail.append(["%s:%s" % (REASON_SOURCE, self.RAPI_NAME or type(self).__name__),
                      "", now])
        return trail

    def make_opcode(self, opcls, body, static=None, rename=None):
        """The opcode of ``body`` (a dict of its parameters, or None) with the
        ``static`` parameters the path and query give; 400 for anything wrong."""
        params = {} if body is None else dict(check_type(body, dict, "Body contents"))
        for old, new in (rename or {}).items():
            if old in params:
                if new in params:
                    raise bad_request("Parameter '%s' was renamed to '%s', but both are"
                                      " specified" % (old, new))
                params[new] = params.pop(old)
        static = dict(static or {})
        overwritten = sorted(set(params) & set(static))
        if overwritten:
            raise bad_request("Can't overwrite static parameters %s" % ", ".join(overwritten))
        params.update(static)
        if "reason" in params:
            raise bad_request("Give the reason as the 'reason' query parameter")
        params["reason"] = self.reason_trail()
        if self.dry_run():
            params["dry_run"] = True
        try:
            op = opcls(**params)
            op.validate(set_defaults=False)
        except errors.OpPrereqError as err:
            raise bad_request("Invalid body parameters: %s" % err.args[0])
        return op

    def submit(self, opcls, body=None, static=None, rename=None):
        """Submit one job of one opcode; its id (what a write answers)."""
        return self.submit_ops([self.make_opcode(opcls, body, static, rename)])

    def submit_ops(self, ops):
        return self.client().submit_job(ops)

    def job_result(self, job_id):
        """Wait for job ``job_id`` to end; its opcodes' results, or 500 with the
        error when it did not succeed."""
        client = self.client()
        status = None
        while status not in constants.JOBS_FINALIZED:
            change = client.wait_for_job_change_once(job_id, ["status"],
                                                     None if status is None else [status],
                                                     None)
            if not change:
                raise HttpError(500, "Job %s vanished" % job_id)
            if change != "nochange":
                status = change[0][0]
        status, opresult = client.query_jobs([job_id], ["status", "opresult"])[0]
        if status != constants.JOB_STATUS_SUCCESS:
            failed = [r for r in opresult if isinstance(r, list) and len(r) == 2]
            message = failed[0][1] if failed else status
            raise HttpError(500, "Job %s %s: %s" % (job_id, status, message))
        return opresult


def map_rows(fields, rows):
    return [dict(zip(fields, row)) for row in rows]


def uri_list(names, uri_format, id_field="id"):
    return [{id_field: name, "uri": uri_format % name} for name in sorted(names)]

