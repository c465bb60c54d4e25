"""A Kerberos realm of the local stack's own, for an HDFS that checks who calls (HDFS_AUTH other
than simple): an MIT KDC on loopback, the principals and their keytabs.

Realm ``VIEWCOUNT.TEST``; the NameNode is ``nn/localhost``, the DataNode ``dn/localhost``, their
web servers (WebHDFS's SPNEGO) ``HTTP/127.0.0.1``, all in ``hdfs.keytab``; the client is
``viewcount``, in ``viewcount.keytab``. A process reaches the realm with :func:`client_environment`.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

from viewcount.settings import Settings
from devtools.stack.exceptions import MissingTool, StackError
from devtools.stack.services import Service, _port_open

REALM = "VIEWCOUNT.TEST"
SERVICE_PRINCIPALS = ("nn/localhost", "dn/localhost", "HTTP/127.0.0.1")
CLIENT_PRINCIPAL = "viewcount"
KDC_HINT = "install MIT Kerberos's KDC (apt-get install krb5-kdc krb5-admin-server)"
_SBIN = Path("/usr/sbin")


def kdc_home(settings: Settings) -> Path:
    return Path(settings.state_dir) / "stack" / "kdc"


def principal(name: str) -> str:
    return f"{name}@{REALM}"


def service_keytab(settings: Settings) -> Path:
    return kdc_home(settings) / "hdfs.keytab"


def client_keytab(settings: Settings) -> Path:
    return kdc_home(settings) / "viewcount.keytab"


def krb5_conf(settings: Settings) -> Path:
    return kdc_home(settings) / "krb5.conf"


def client_environment(settings: Settings) -> dict[str, str]:
    """What a client process of the realm needs: its configuration, and the client keytab, from
    which MIT Kerberos gets (and renews) the tickets itself, kept in a cache of the stack's."""
    return {"KRB5_CONFIG": str(krb5_conf(settings)), "KRB5_CLIENT_KTNAME": str(client_keytab(settings)),
            "KRB5CCNAME": f"FILE:{kdc_home(settings) / 'client.ccache'}"}


def negotiated_get(settings: Settings, url: str, timeout_s: float) -> bytes:
    """GET ``url`` with SPNEGO as the realm's client. With Kerberos on, Hadoop guards every page
    of its web servers, JMX too, so the stack's health probes must authenticate; curl does it
    with the client keytab and no state in this process."""
    curl = shutil.which("curl")
    if curl is None:
        raise MissingTool("curl not found: apt-get install curl")
    done = subprocess.run([curl, "--silent", "--fail", "--negotiate", "--user", ":", "--max-time", str(timeout_s), url],
                          env={**client_environment(settings), "PATH": "/usr/bin:/bin"}, capture_output=True)
    if done.returncode != 0:
        raise StackError(f"GET {url} with SPNEGO failed (curl exit {done.returncode})")
    return done.stdout


def _tool(name: str) -> str:
    path = _SBIN / name
    if not path.exists():
        raise MissingTool(f"{name} not found: {KDC_HINT}")
    return str(path)


class KdcService(Service):
    name = "kdc"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.port = settings.kdc_port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port} (realm {REALM})"

    def ports(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", self.port)]

    def environment(self) -> dict[str, str]:
        return {"KRB5_CONFIG": str(krb5_conf(self.settings)), "KRB5_KDC_PROFILE": str(self.home / "kdc.conf"),
                "PATH": "/usr/sbin:/usr/bin:/bin"}

    def _write_conf(self) -> None:
        enctypes = "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96"   # what Java 17 and MIT both take
        krb5_conf(self.settings).write_text(
            "[libdefaults]\n"
            f"  default_realm = {REALM}\n"
            "  dns_lookup_kdc = false\n  dns_lookup_realm = false\n"
            "  dns_canonicalize_hostname = false\n  rdns = false\n"
            "  udp_preference_limit = 1\n"
            "  ticket_lifetime = 24h\n  renew_lifetime = 7d\n"
            f"  default_tkt_enctypes = {enctypes}\n  default_tgs_enctypes = {enctypes}\n"
            f"  permitted_enctypes = {enctypes}\n"
            "[realms]\n"
            f"  {REALM} = {{\n    kdc = 127.0.0.1:{self.port}\n  }}\n"
            "[domain_realm]\n"
            f"  localhost = {REALM}\n  127.0.0.1 = {REALM}\n")
        supported = " ".join(f"{e}:normal" for e in enctypes.split())
        (self.home / "kdc.conf").write_text(
            "[kdcdefaults]\n"
            f"  kdc_ports = {self.port}\n  kdc_tcp_ports = {self.port}\n"
            "[realms]\n"
            f"  {REALM} = {{\n"
            f"    database_name = {self.home / 'principal'}\n"
            f"    key_stash_file = {self.home / 'stash'}\n"
            f"    acl_file = {self.home / 'kadm5.acl'}\n"
            "    max_life = 24h\n    max_renewable_life = 7d\n"
            f"    supported_enctypes = {supported}\n"
            f"    kdc_ports = {self.port}\n    kdc_tcp_ports = {self.port}\n"
            "  }\n"
            "[logging]\n"
            f"  kdc = FILE:{self.home / 'kdc-events.log'}\n")
        (self.home / "kadm5.acl").write_text("")

    def _run(self, *argv: str) -> None:
        done = subprocess.run(argv, env=self.environment(), capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError(f"{' '.join(argv[:3])} failed: {done.stdout[-1000:]}{done.stderr[-1000:]}")

    def prepare(self) -> None:
        """The realm's database, principals and keytabs, once."""
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_conf()
        if client_keytab(self.settings).exists():
            return
        for stale in self.home.glob("principal*"):
            stale.unlink()
        self._run(_tool("kdb5_util"), "create", "-s", "-r", REALM, "-P", secrets.token_urlsafe(24))
        kadmin = _tool("kadmin.local")
        for name in (*SERVICE_PRINCIPALS, CLIENT_PRINCIPAL):
            self._run(kadmin, "-r", REALM, "-q", f"addprinc -randkey {principal(name)}")
        self._run(kadmin, "-r", REALM, "-q",
                  f"ktadd -k {service_keytab(self.settings)} {' '.join(principal(n) for n in SERVICE_PRINCIPALS)}")
        partial = client_keytab(self.settings).with_suffix(".partial")
        self._run(kadmin, "-r", REALM, "-q", f"ktadd -k {partial} {principal(CLIENT_PRINCIPAL)}")
        for keytab in (service_keytab(self.settings), partial):
            keytab.chmod(0o600)
        partial.rename(client_keytab(self.settings))   # last: its presence says the realm is complete

    def argv(self) -> list[str]:
        return [_tool("krb5kdc"), "-n", "-r", REALM]

    def healthy(self) -> bool:
        return _port_open("127.0.0.1", self.port)


def hadoop_security(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """(core-site, hdfs-site) settings that make the stack's HDFS check Kerberos credentials; its
    JVMs find the realm through :func:`krb5_conf`.

    The DataNode listens on ports above 1024 without SASL on its data transfer, which Hadoop
    allows for tests only (``ignore.secure.ports.for.testing``): a deployment runs it on
    privileged ports or with ``dfs.data.transfer.protection`` and HTTPS."""
    keytab = str(service_keytab(settings))
    web = principal("HTTP/127.0.0.1")
    core = {"hadoop.security.authentication": "kerberos", "hadoop.security.authorization": "false",
            "hadoop.rpc.protection": "authentication",
            # WebHDFS's filter takes its type from here, and core-default.xml says simple, which would
            # let every call through unauthenticated. It guards the other pages too, JMX included:
            # the stack's health probes authenticate (negotiated_get).
            "hadoop.http.authentication.type": "kerberos",
            "hadoop.http.authentication.simple.anonymous.allowed": "false",
            "hadoop.http.authentication.kerberos.principal": web,
            "hadoop.http.authentication.kerberos.keytab": keytab}
    hdfs = {
        "dfs.block.access.token.enable": "true",
        "dfs.namenode.kerberos.principal": principal("nn/localhost"),
        "dfs.namenode.keytab.file": keytab,
        "dfs.datanode.kerberos.principal": principal("dn/localhost"),
        "dfs.datanode.keytab.file": keytab,
        "dfs.web.authentication.kerberos.principal": web,
        "dfs.web.authentication.kerberos.keytab": keytab,
        "dfs.namenode.kerberos.internal.spnego.principal": web,
        "ignore.secure.ports.for.testing": "true",
    }
    return core, hdfs
