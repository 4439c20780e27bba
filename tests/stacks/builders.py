"""Programmatic test registers: small, exact, and independent of the example manifests."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace

from xzgov.core import model as m

ZONES = {
    "internet-access": ("互联网接入区", "internet-access", "10.64.0.0/16", "10.164.0.0/16", ()),
    "public-service": ("政务外网公共服务区", "public-service", "10.65.0.0/16", "10.165.0.0/16",
                       ("internet-access", "department")),
    "shared-services": ("公共支撑区", "shared-services", "10.66.0.0/16", "10.166.0.0/16",
                        ("public-service", "department", "big-data")),
    "department": ("部门业务专区", "department", "10.67.0.0/16", "10.167.0.0/16", ("public-service",)),
    "big-data": ("大数据共享交换区", "big-data", "10.68.0.0/16", "10.168.0.0/16",
                 ("public-service", "department", "shared-services")),
    "security-management": ("安全管理区", "security-management", "10.69.0.0/16", "10.169.0.0/16", ()),
}


def region() -> m.Region:
    return m.Region(
        name="xizang", title="西藏自治区数字政府 政务云",
        departments={
            "dsjj": m.Department("dsjj", "西藏自治区大数据中心", True, ("dsjj-ops", "platform-ops")),
            "wjw": m.Department("wjw", "西藏自治区卫生健康委员会", True, ("wjw-ops",)),
            "gat": m.Department("gat", "西藏自治区公安厅", True, ("gat-ops",)),
        },
        zones={zid: m.Zone(zid, name, kind, {"lhasa": ipaddress.IPv4Network(a), "dr": ipaddress.IPv4Network(b)},
                           reach)
               for zid, (name, kind, a, b, reach) in ZONES.items()},
        sites={"lhasa": m.Site("lhasa", "拉萨 政务云主中心", "primary", "xzgov-backup-lhasa",
                               "https://oss.lhasa.xzgov.internal"),
               "dr": m.Site("dr", "林芝 灾备中心", "dr", "xzgov-backup-dr", "https://oss.dr.xzgov.internal")},
        shared_services={"identity": m.SharedService("identity", "统一身份认证", "identity-platform", 443),
                         "crypto-service": m.SharedService("crypto-service", "统一密码服务", "crypto-platform", 8443)},
        time_sources=("10.69.0.123",),
        log_servers={"log-centre": m.LogServer("log-centre", "10.69.1.10", 6514)},
        operator_user="xzops", operator_groups=("platform-ops",),
    )


def workload(name: str, *, replicas: int = 2, cpu: tuple[str, str] = ("500m", "2"),
             memory: tuple[str, str] = ("1Gi", "4Gi"), ports: Sequence[int] = (8443,),
             storage: str | None = None, names: dict[int, str] | None = None) -> m.Workload:
    digest = "0" * 64
    return m.Workload(name, f"registry.xzgov.internal/x/{name}@sha256:{digest}",
                      tuple(m.Port(p, "TCP", (names or {}).get(p)) for p in ports), replicas,
                      m.Resources(cpu[0], memory[0]),
                      m.Resources(cpu[1], memory[1]), storage, "csi-ssd" if storage else None)


def flow(kind: str, name: str, port: int, protocol: str = "tcp", purpose: str = "业务调用") -> m.Flow:
    return m.Flow(m.FlowTarget(kind, name), protocol, port, purpose)  # type: ignore[arg-type]


def system(name: str, *, department: str = "wjw", zone: str = "department", site: str = "lhasa",
           level: int = 3, internet_facing: bool = False, workloads: Sequence[m.Workload] | None = None,
           hosts: Sequence[m.Host] = (), flows: Sequence[m.Flow] = (), rpo: int = 60,
           schedule: str = "0 2 * * *", retention: int = 90, dr_tier: int = 3) -> m.System:
    return m.System(
        name=name, department=department, title=f"{name} 系统", labels={},
        owner=m.Owner(department, "负责人", f"{name}@example.gov.cn"), tier="自治区", locality=m.Locality(),
        classification=m.Classification(level, level, "一般数据", False, False),
        zone=zone, site=site, internet_facing=internet_facing, endpoints=(),
        workloads=tuple(workloads if workloads is not None else (workload("app"),)),
        hosts=tuple(hosts), flows=tuple(flows), services=(),
        continuity=m.Continuity(rpo, rpo * 4, schedule, retention, dr_tier),
        crypto=m.CryptoPlan({}, {}), authentication=m.Authentication(("password",), ("password",)),
        audit=m.Audit("log-centre", 180), lifecycle=m.Lifecycle("running", "CHG-1", "测试"),
        source=f"systems/{department}/{name}.yaml",
    )


def host(hostname: str, address: str, ports: Sequence[int] = ()) -> m.Host:
    return m.Host(hostname, ipaddress.IPv4Address(address), "debian", "12", "数据库", "postgresql",
                  ports=tuple(m.Port(p) for p in ports))


def register(*systems: m.System) -> m.Register:
    return m.Register(region(), {s.name: s for s in systems})


def standard() -> m.Register:
    """A register exercising every render rule.

    * ``identity-platform`` (shared-services, provides ``identity`` on Service port 443 → its pods' port
      8443, named ``identity``) and ``crypto-platform`` (provides
      ``crypto-service``, VM-only: hosts serving its port 8443, no workloads);
    * ``health-portal``: internet-facing, flows to ``identity`` (service), ``health-records`` (system)
      and the security-management zone (logs);
    * ``health-records``: department zone, has volumes, a manifest schedule more frequent than its RPO;
    * ``police-intel``: level 4 at lhasa, dr tier 4, talks to nobody;
    * ``dr-native``: placed at the DR site;
    * ``low-tier``: dr tier 1 (no DR tenancy).
    """
    return register(
        system("identity-platform", department="dsjj", zone="shared-services", rpo=15, dr_tier=5,
               workloads=[workload("auth", replicas=3, ports=(8443,), names={8443: "identity"})],
               flows=[flow("service", "crypto-service", 8443, purpose="签名验签")]),
        system("crypto-platform", department="dsjj", zone="shared-services", workloads=[],
               hosts=[host("hsm01", "10.66.8.11", (8443,)), host("hsm02", "10.66.8.12", (8443,))]),
        system("health-portal", internet_facing=True, zone="public-service",
               workloads=[workload("web", replicas=2, ports=(8443, 9090))],
               flows=[flow("service", "identity", 443, purpose="统一身份认证"),
                      flow("system", "health-records", 8443, purpose="查询健康档案"),
                      flow("zone", "security-management", 6514, purpose="日志上送")]),
        system("health-records", rpo=30, schedule="*/10 * * * *",
               workloads=[workload("api", replicas=2), workload("db", replicas=1, cpu=("1", "4"),
                                                               memory=("2Gi", "8Gi"), ports=(5432,),
                                                               storage="100Gi")]),
        system("police-intel", department="gat", level=4, dr_tier=4, rpo=5),
        system("dr-native", site="dr", dr_tier=0),
        system("low-tier", level=2, dr_tier=1, rpo=1440),
    )


def with_flows(target: m.System, *flows: m.Flow) -> m.System:
    return replace(target, flows=tuple(flows))
