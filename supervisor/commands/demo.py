"""`fillfloor demo`: the demo scenario, headless, on the embedded default (SQLite in --data-dir).

Until the live floor (actors, coordinator, simulated devices) is built, the demo registers the
scenario's cylinders and operators in the local database and shows, for each label the scenario
scans, what the archive-based interlock decides on the scenario's date and why, in the operator's
language. It never fails on a fresh machine.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from importlib import resources
from pathlib import Path

from domain.eligibility import eligibility_reasons, next_inspection_date
from domain.filling import fill_target, tare_reasons
from domain.labels import LabelRule, parse_label
from domain.reasons import describe
from domain.settings import DomainSettings
from simulator.scenario import load_scenario
from supervisor.commands._db import open_for
from supervisor.storage.repository import set_unit, upsert_archives, upsert_operators
from supervisor.storage.verify import verify_chain

__all__ = ["register"]

_TEXTS = {
    "zh": {
        "title": "演示场景 {file}：{unit} {name}，日期 {today}",
        "registered": "已登记气瓶 {cyl} 个，充装工 {ops} 名；充装记录链完整（{fills} 条）",
        "scan": "扫码",
        "refused": "拒绝充装：",
        "sep": "；",
        "eligible": "合格，目标毛重 {target} kg（皮重 {tare} + 额定 {net}）",
        "later": "（实时充装现场：设备仿真与联锁控制随后续版本提供；fillfloor --help 查看命令）",
    },
    "en": {
        "title": "Demo scenario {file}: {unit} {name}, date {today}",
        "registered": "{cyl} cylinder(s), {ops} operator(s) registered; fill chain intact ({fills} fills)",
        "scan": "scan",
        "refused": "refused: ",
        "sep": "; ",
        "eligible": "eligible, target gross {target} kg (tare {tare} + rated {net})",
        "later": "(The live floor with simulated devices arrives in later releases; see fillfloor --help.)",
    },
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the demo scenario headless (no devices needed)")
    parser.add_argument("--scenario", type=Path, help="a scenario file (default: the bundled demo)")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the output")
    parser.add_argument("--data-dir", default="data", metavar="DIR", help="data directory (default ./data)")
    parser.add_argument("--db", metavar="URL", help="database URL (default: SQLite in --data-dir)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = args.scenario or Path(str(resources.files("simulator") / "scenarios" / "demo.toml"))
    scenario = load_scenario(path)
    db = open_for(args)
    with db.transaction() as conn:
        set_unit(conn, scenario.unit_code, scenario.short_name)
        upsert_archives(conn, scenario.cylinders)
        upsert_operators(conn, scenario.operators)
    with db.reading() as conn:
        chain = verify_chain(conn)
    db.close()

    text = _TEXTS[args.lang]
    settings = DomainSettings()
    rule = LabelRule(unit_code=scenario.unit_code, pattern=scenario.label_pattern)
    archives = {a.code: a for a in scenario.cylinders}
    print(text["title"].format(file=path.name, unit=scenario.unit_code, name=scenario.short_name,
                               today=scenario.today))  # fmt: skip
    print(text["registered"].format(cyl=len(archives), ops=len(scenario.operators), fills=chain.count))
    on_scale: dict[str, Decimal] = {}
    for step in scenario.steps:
        if step.do == "place" and step.station:
            on_scale[step.station] = step.args["gross_kg"]
        if step.do != "scan" or step.station is None:
            continue
        label = parse_label(step.args["text"], rule)
        head = f"  [{step.station}] {text['scan']} {label.raw}: "
        if label.code is None or label.reason is not None:
            print(head + describe(label.reason or "", args.lang))
            continue
        archive = archives.get(label.code)
        reasons = list(eligibility_reasons(archive, scenario.unit_code, scenario.today, settings))
        gross = on_scale.get(step.station)
        if archive is not None and not reasons and gross is not None:
            reasons += tare_reasons(gross, archive, settings)
        if reasons:
            due = next_inspection_date(archive, settings) if archive else None
            why = text["sep"].join(describe(r, args.lang) for r in reasons)
            print(head + text["refused"] + why + (f" ({due})" if due else ""))
        else:
            assert archive is not None
            t = fill_target(archive, settings)
            print(
                head + text["eligible"].format(target=t.target_gross_kg, tare=t.tare_kg, net=t.rated_net_kg)
            )
    print(text["later"])
    return 0
