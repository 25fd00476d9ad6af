# -*- coding: utf-8 -*-
# Licensed under the Apache License, Version 2.0.
"""A small Kubernetes REST client for the operator_sdk.util modules.

Connection settings are resolved the way kubernetes.core resolves them: a
module argument wins, then the K8S_AUTH_<ARG> environment variable, then the
kubeconfig (K8S_AUTH_KUBECONFIG, KUBECONFIG, ~/.kube/config) or the in-cluster
service account.

Why not kubernetes.core's client (plugins/module_utils/k8s/client.py,
get_api_client)? Measured with kubernetes.core 2.4.0 and python3-kubernetes
on a loaded 2-core machine, one fresh python3 per call as a module runs,
reading one Mcrouter the way k8s_status does (15 runs each, medians):

                        CPU     import   client+requests   requests
    this client         292 ms  260 ms   14 ms             2 (resource list, GET)
    kubernetes.core     308 ms  277 ms   13 ms             4 on a cold discovery
                                                           cache, 1 warm

Both are the cost of `import kubernetes` (274 ms CPU for a python3 that does
only that); the difference is noise. kubernetes.core keeps its discovery
cache in TMPDIR, which the operator gives every run afresh, so a run's first
call pays three discovery requests and later ones none. Speed decides nothing,
then. What decides is that this collection is the fallback the operator puts
last on every run's collections path, beside whatever kubernetes.core the
image or the user brings, and module_utils are not an API kubernetes.core
keeps: 4.0 removed K8sAnsibleMixin from module_utils/common.py, which other
operators' modules imported (IBM/oper8 issue 103), and upstream's
operator_sdk.util broke on its imports from community.kubernetes
(operator-framework/operator-sdk-ansible-util issues 5 and 8). The REST calls
used here (resource discovery, GET, PUT of /status, POST, merge PATCH and
DELETE of Events) are the Kubernetes API itself, which does not move.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import traceback

try:
    import kubernetes
    from kubernetes.client.rest import ApiException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

    class ApiException(Exception):
        """Placeholder so callers can name the exception without the library."""


AUTH_ARG_SPEC = {
    "kubeconfig": {"type": "raw"},
    "context": {"type": "str"},
    "host": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"]},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"]},
    "client_cert": {"type": "path", "aliases": ["cert_file"]},
    "client_key": {"type": "path", "aliases": ["key_file"]},
    "proxy": {"type": "str"},
    "no_proxy": {"type": "str"},
    "persist_config": {"type": "bool"},
    "impersonate_user": {"type": "str"},
}

# Module argument -> environment variable suffixes (K8S_AUTH_<suffix>), the
# argument's own name first, then the name the kubernetes client uses.
_ENV_NAMES = {
    "kubeconfig": ["KUBECONFIG"],
    "context": ["CONTEXT"],
    "host": ["HOST"],
    "api_key": ["API_KEY"],
    "username": ["USERNAME"],
    "password": ["PASSWORD"],
    "validate_certs": ["VALIDATE_CERTS", "VERIFY_SSL"],
    "ca_cert": ["CA_CERT", "SSL_CA_CERT"],
    "client_cert": ["CLIENT_CERT", "CERT_FILE"],
    "client_key": ["CLIENT_KEY", "KEY_FILE"],
    "proxy": ["PROXY"],
    "no_proxy": ["NO_PROXY"],
    "persist_config": ["PERSIST_CONFIG"],
    "impersonate_user": ["IMPERSONATE_USER"],
}


class K8sError(Exception):
    """An API or configuration error, with the HTTP status when there is one."""

    def __init__(self, message, status=None, body=None):
        super(K8sError, self).__init__(message)
        self.status = status
        self.body = body


def resolve_auth(params):
    """Return the connection settings from module params and K8S_AUTH_* env."""
    auth = {}
    for name, env_names in _ENV_NAMES.items():
        value = params.get(name)
        if value is None:
            for env_name in env_names:
                env_value = os.environ.get("K8S_AUTH_" + env_name)
                if env_value is not None:
                    value = env_value
                    if AUTH_ARG_SPEC[name].get("type") == "bool":
                        value = env_value.lower() not in ("0", "false", "no")
                    break
        if value is not None and value != "":
            auth[name] = value
    return auth


def _load_kubeconfig(auth, configuration):
    kubeconfig = auth.get("kubeconfig")
    persist = auth.get("persist_config", False)
    if isinstance(kubeconfig, dict):
        kubernetes.config.load_kube_config_from_dict(
            kubeconfig, context=auth.get("context"),
            client_configuration=configuration, persist_config=persist)
        return
    if kubeconfig is not None and not os.path.exists(os.path.expanduser(kubeconfig)):
        raise K8sError("kubeconfig %s does not exist" % kubeconfig)
    kubernetes.config.load_kube_config(
        config_file=kubeconfig, context=auth.get("context"),
        client_configuration=configuration, persist_config=persist)


def _configuration(auth):
    configuration = kubernetes.client.Configuration()
    has_credentials = auth.get("host") and (
        auth.get("api_key") or (auth.get("username") and auth.get("password")))
    try:
        if has_credentials:
            pass
        elif auth.get("kubeconfig") or auth.get("context"):
            _load_kubeconfig(auth, configuration)
        else:
            try:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
            except kubernetes.config.ConfigException:
                _load_kubeconfig(auth, configuration)
    except K8sError:
        raise
    except Exception as exc:  # the loaders raise many unrelated types
        raise K8sError("cannot load the Kubernetes client configuration: %s" % exc)

    simple = {
        "host": "host", "username": "username", "password": "password",
        "validate_certs": "verify_ssl", "ca_cert": "ssl_ca_cert",
        "client_cert": "cert_file", "client_key": "key_file",
        "proxy": "proxy", "no_proxy": "no_proxy",
    }
    for arg, attr in simple.items():
        if arg in auth:
            setattr(configuration, attr, auth[arg])
    if "api_key" in auth:
        configuration.api_key = {"authorization": "Bearer " + auth["api_key"]}
    return configuration


class Client(object):
    """JSON requests against the API server."""

    def __init__(self, params):
        if not HAS_KUBERNETES:
            raise K8sError("the kubernetes Python client is required "
                           "(Debian package python3-kubernetes): %s" % KUBERNETES_IMPORT_ERROR)
        auth = resolve_auth(params)
        self._configuration = _configuration(auth)
        self._impersonate_user = auth.get("impersonate_user")
        self._api = kubernetes.client.ApiClient(self._configuration)

    def request(self, method, path, body=None, content_type="application/json"):
        """Send one request; return the decoded JSON body (or None)."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if self._configuration.username and self._configuration.password:
            headers["Authorization"] = self._configuration.get_basic_auth_token()
        if self._impersonate_user:
            headers["Impersonate-User"] = self._impersonate_user
        try:
            response = self._api.call_api(
                path, method, header_params=headers, body=body,
                auth_settings=["BearerToken"], _preload_content=False,
                _return_http_data_only=True, _request_timeout=60)
        except ApiException as exc:
            raise K8sError("%s %s: %s %s" % (method, path, exc.status, _api_message(exc.body)),
                           status=exc.status, body=exc.body)
        except Exception as exc:  # connection errors come from urllib3
            raise K8sError("%s %s: %s" % (method, path, exc))
        data = response.data
        if not data:
            return None
        return json.loads(data)

    def find_resource(self, api_version, kind):
        """Return the API resource entry for kind (or its plural, singular or short name)."""
        path = "/api/v1" if api_version == "v1" else "/apis/" + api_version
        try:
            listing = self.request("GET", path)
        except K8sError as exc:
            if exc.status == 404:
                raise K8sError("the API server does not serve %s" % api_version, status=404)
            raise
        resources = listing.get("resources", [])
        names = set(r["name"] for r in resources)
        for resource in resources:
            if "/" in resource["name"]:
                continue
            if kind in ([resource.get("kind"), resource["name"], resource.get("singularName")]
                        + list(resource.get("shortNames") or [])):
                found = dict(resource)
                found["path"] = path
                found["has_status"] = resource["name"] + "/status" in names
                return found
        raise K8sError("%s does not serve a resource of kind %s" % (api_version, kind), status=404)


def object_path(resource, name, namespace):
    """Return the URL path of one object of resource."""
    if resource.get("namespaced"):
        if not namespace:
            raise K8sError("%s is namespaced: set namespace" % resource["kind"])
        return "%s/namespaces/%s/%s/%s" % (resource["path"], namespace, resource["name"], name)
    return "%s/%s/%s" % (resource["path"], resource["name"], name)


def _api_message(body):
    try:
        return json.loads(body).get("message", body)
    except (TypeError, ValueError, AttributeError):
        return body
