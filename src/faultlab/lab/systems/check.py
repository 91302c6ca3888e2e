"""`faultlab system check`: every endpoint of a guide system probed before anything is broken — what was found, what
is missing and which setting to change — and the abilities that follow (a monitor, an order's status, positions,
the fault endpoint, the commands).

Nothing is injected: the fault endpoint is asked with an empty body, and any answer but 404 / 405 means it is there;
asked again without credentials, any answer but 401 / 403 means anyone who reaches it can inject a fault (a flaw the
check names, not one that stops a run).
The one write is a test order of one unit, cancelled at once (left out with `write=False`). Every sentence is an
English message with its fields, said in the reader's language where it is printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from faultlab.core import i18n
from faultlab.core.client import ApiCallError, LabClient, Unreachable
from faultlab.core.i18n import N_, NP_, Plural
from faultlab.core.messages.system import SystemContract
from faultlab.lab.systems.commands import runnable
from faultlab.lab.systems.contract import fill, find_path, monitor_states, pick, products_of, rows_of

ABSENT = (404, 405)
TRANSLATED = ("reason",)  # parameters that are themselves messages
REFUSED, TIMED_OUT = N_("connection refused"), N_("no answer in time")
NO_ROW = NP_("monitor GET {url}: no row for replica {missing} (instance ids seen: {seen})",
             "monitor GET {url}: no row for replicas {missing} (instance ids seen: {seen})", "count")


@dataclass(frozen=True)
class Finding:
    """One thing the check found or missed: a sentence (an English msgid and its fields; a plural one takes its form
    from the number in the field it names), the setting to change, and whether the system cannot be used without it."""

    area: str
    ok: bool
    message: str | Plural
    params: dict[str, Any] = field(default_factory=dict)
    setting: str | None = None
    fatal: bool = False

    def text(self, lang: str | None = None) -> str:
        """The sentence in `lang` (English without one), with the setting to change when it is missing."""
        gettext, ngettext = (i18n.gettext_for(lang), i18n.ngettext_for(lang)) if lang else (None, None)
        params = {k: gettext(v) if gettext and k in TRANSLATED else v for k, v in self.params.items()}
        said = i18n.template_of(self.message, params, gettext, ngettext).format(**params)
        if self.setting and not self.ok:
            said += " — " + (gettext(N_("set {setting}")) if gettext else "set {setting}").format(
                setting=self.setting)
        return said

    def describe(self) -> dict[str, Any]:
        """The finding as report.json records it: its English text, and its msgid and fields to say it again (a plural
        one's two forms: `msgid`, `msgid_plural` and the field `counted`)."""
        msgid = {"msgid": self.message} if isinstance(self.message, str) else {
            "msgid": self.message.singular, "msgid_plural": self.message.plural, "counted": self.message.counted}
        return {"area": self.area, "ok": self.ok, "fatal": self.fatal, "setting": self.setting,
                "message": self.text(), **msgid, "params": self.params}


@dataclass
class CheckResult:
    """Everything the check found, and the facts the system's abilities are read from."""

    findings: list[Finding] = field(default_factory=list)
    monitor: bool = False
    order_status: bool = False
    positions: bool = False
    inject: bool = False
    cancels: bool = False
    instance_ids: dict[int, Any] = field(default_factory=dict)
    words: dict[int, Any] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)  # available units per product, as the voter said

    @property
    def ok(self) -> bool:
        return not any(f.fatal and not f.ok for f in self.findings)

    def add(self, area: str, ok: bool, message: str | Plural, setting: str | None = None, fatal: bool = False,
            **params: Any) -> None:
        self.findings.append(Finding(area, ok, message, params, setting, fatal))

    def describe(self) -> dict[str, Any]:
        return {"ok": self.ok, "found": [f.text() for f in self.findings if f.ok],
                "missing": [f.text() for f in self.findings if not f.ok],
                "unusable": [f.text() for f in self.findings if f.fatal and not f.ok],
                "findings": [f.describe() for f in self.findings],
                "instance_ids": {str(r): v for r, v in self.instance_ids.items()},
                "words": {str(r): v for r, v in self.words.items()}}


def _said(status: int | None, answer: Any) -> str:
    detail = answer.get("error") if isinstance(answer, dict) else None
    return f"HTTP {status}" + (f" ({str(detail)[:120]})" if detail else "")


class SystemCheck:
    """Runs the check against one system with one client (its headers already on the client's session)."""

    def __init__(self, contract: SystemContract, client: LabClient, proxy: dict[str, Any] | None = None) -> None:
        self.contract = contract
        self.client = client
        self.proxy = proxy or {}  # inject: proxy — the fault proxy as found (url, ok, problem, replicas)
        self.result = CheckResult()

    async def _get(self, url: str, method: str = "GET", body: Any = None) -> tuple[int | None, Any]:
        """(status, answer); (None, why) when nothing answered: connection refused, no answer in time, or the
        client's own words for another failure."""
        try:
            return await self.client.send(method, url, body, timeout_s=self.contract.timeout_s)
        except Unreachable as exc:
            if exc.timed_out:
                return None, TIMED_OUT
            return None, REFUSED if "connect" in exc.reason.casefold() else exc.reason[:160]
        except ApiCallError as exc:
            return None, exc.error[:160]

    async def _without_credentials(self, url: str) -> int | None:
        """The status the fault endpoint answers to an empty body sent without the contract's headers (None: no
        answer)."""
        try:
            async with aiohttp.ClientSession() as session, session.post(
                    url, json={}, timeout=aiohttp.ClientTimeout(total=self.contract.timeout_s)) as resp:
                return resp.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None

    def answered(self, area: str, what: str, url: str, status: int | None, answer: Any, setting: str | None = None,
                 fatal: bool = False, replica: int | None = None) -> bool:
        """One request's finding: `{what} {url} answered HTTP …` (found when 2xx), or `… did not answer (why)`;
        `what` is the service and the method (`voter GET`), or only the method for a replica."""
        if status is None:
            message = (N_("replica {n} {what} {url} did not answer ({reason})") if replica is not None
                       else N_("{what} {url} did not answer ({reason})"))
            self.result.add(area, False, message, setting, fatal, what=what, url=url, reason=answer, n=replica)
            return False
        ok = 200 <= status < 300
        message = N_("replica {n} {what} {url} answered {said}") if replica is not None else N_("{what} {url} "
                                                                                                 "answered {said}")
        self.result.add(area, ok, message, setting, fatal and not ok, what=what, url=url, said=_said(status, answer),
                        n=replica)
        return ok

    async def run(self, write: bool = True) -> CheckResult:
        await self.voter()
        await self.replicas()
        await self.monitor()
        await self.orders(write)
        self.commands()
        return self.result

    # ---- each part ----------------------------------------------------------------------------------------------

    async def voter(self) -> None:
        c, r = self.contract, self.result
        url = c.voter.url + c.voter.voted_path
        status, answer = await self._get(url)
        if status != 200:
            self.answered("voter", "voter GET", url, status, answer, "system.voter.url / system.voter.voted_path",
                          True)
            return
        found = products_of(answer, c.voter.items_path, c.fields)
        if not found:
            where = find_path(answer, c.fields.product)
            r.add("voter", False, N_("voter GET {url}: no products at {path!r}"), "system.voter.items_path" + (
                f": {where!r}" if where is not None else " / system.fields.product"), True, url=url,
                path=c.voter.items_path)
            return
        missing = [p for p in c.products if p not in found]
        if missing:
            r.add("voter", False, N_("voter GET {url}: products {missing} not in its answer (it has {seen})"),
                  "system.products", True, url=url, missing=", ".join(missing), seen=", ".join(sorted(found)))
            return
        r.stock = {p: found[p].available or 0 for p in c.products}
        r.positions = all(found[p].position is not None for p in c.products)
        r.add("voter", True, N_("voter GET {url}: {n} products, available {stock}; with positions") if r.positions
              else N_("voter GET {url}: {n} products, available {stock}; no positions (monotonic reads cannot be "
                      "checked)"), url=url, n=len(found), stock=", ".join(f"{p} {v}" for p, v in r.stock.items()))
        if c.voter.voted_one_path is not None:
            one = c.voter.url + fill(c.voter.voted_one_path, {"product_id": c.products[0]})
            status, answer = await self._get(one)
            self.answered("voter", "voter GET", one, status, answer, "system.voter.voted_one_path", True)
        if c.voter.stats_path is not None:
            url = c.voter.url + c.voter.stats_path
            status, answer = await self._get(url)
            self.answered("voter", "voter GET", url, status, answer, "system.voter.stats_path (or null)")

    async def replicas(self) -> None:
        c, r = self.contract, self.result
        inject_ok = []
        for n, base in enumerate(c.replicas.urls, start=1):
            area = f"replica {n}"
            url = base + c.replicas.health_path
            status, answer = await self._get(url)
            self.answered(area, "GET", url, status, answer,
                          f"system.replicas.urls[{n - 1}] / system.replicas.health_path", status is None, n)
            if status is None:
                continue  # nothing more to ask of it
            url = base + c.replicas.inventory_path
            status, answer = await self._get(url)
            found = products_of(answer, c.replicas.items_path, c.fields) if status == 200 else {}
            if found:
                r.add(area, True, N_("replica {n} GET {url}: {count} products"), n=n, url=url, count=len(found))
            else:
                where = find_path(answer, c.fields.product) if status == 200 else None
                setting = (f"system.replicas.items_path: {where!r}" if where is not None
                           else "system.replicas.inventory_path / system.replicas.items_path")
                r.add(area, False, N_("replica {n} GET {url}: no products ({said})"), setting, True, n=n, url=url,
                      said=_said(status, answer) if status is not None else answer)
            if c.inject == "proxy":
                continue
            url = base + c.replicas.inject_path
            status, answer = await self._get(url, "POST", {})
            if status is None:
                self.answered(area, "POST", url, status, answer, "system.replicas.inject_path", replica=n)
            elif status in ABSENT:
                r.add(area, False, N_("replica {n} POST {url} answered {said}: no fault endpoint"),
                      "system.replicas.inject_path (or inject: proxy)", n=n, url=url, said=_said(status, answer))
            elif status in (401, 403):
                r.add(area, False, N_("replica {n} POST {url} answered {said}: it wants credentials"),
                      "system.headers", n=n, url=url, said=_said(status, answer))
            else:
                inject_ok.append(n)
                r.add(area, True, N_("replica {n} POST {url} answered {said} to an empty body: the fault endpoint is "
                                     "there (nothing injected)"), n=n, url=url, said=_said(status, answer))
                bare = await self._without_credentials(url) if c.headers else status
                if bare is not None and bare not in (401, 403):
                    r.add(area, False, N_("replica {n} POST {url} answered HTTP {status} to a request without "
                                          "credentials: anyone who can reach it can inject a fault"), n=n, url=url,
                          status=bare)
        r.inject = len(inject_ok) == len(c.replicas.urls) if c.inject == "api" else bool(self.proxy.get("ok"))
        if c.inject == "proxy":
            await self.through_proxy()
        elif r.inject:
            kinds = sorted(k for k in c.replicas.kinds if k != "clear")
            r.add("replicas", True, N_("fault kinds it is sent as (not tried): {kinds}"),
                  kinds=", ".join(f"{k} → {c.replicas.kinds[k]}" for k in kinds))

    async def through_proxy(self) -> None:
        """`inject: proxy`: the fault proxy answers, stands in front of every replica, and forwards to each."""
        c, r, proxy = self.contract, self.result, self.proxy
        if not proxy.get("ok"):
            r.add("replicas", False, N_("inject: proxy, but no fault proxy answers ({why}): start `faultlab system "
                                        "proxy` and point the voter and the monitor at it"),
                  "system.proxy.control_url (or inject: api)", True, why=proxy.get("problem") or "-")
            return
        rows = {int(row["replica"]): row for row in proxy.get("replicas") or []}
        missing = [n for n in range(1, len(c.replicas.urls) + 1) if n not in rows]
        if missing:
            r.add("replicas", False, N_("the fault proxy at {url} stands in front of no replica {missing}"),
                  "faultlab system proxy --upstream N=URL", True, url=proxy["url"], missing=missing)
            return
        for n, row in sorted(rows.items()):
            url = str(row["address"]) + c.replicas.health_path
            status, answer = await self._get(url)
            self.answered(f"replica {n}", "GET", url, status, answer, "faultlab system proxy --upstream", True, n)
        r.add("replicas", True, N_("fault proxy at {url}: {replicas}; a crash needs each replica's process id "
                                   "(--pid)"), url=proxy["url"],
              replicas=", ".join(f"{n} = {row['address']} → {row.get('upstream')}" for n, row in sorted(rows.items())))

    async def monitor(self) -> None:
        c, r = self.contract, self.result
        if c.monitor.url is None:
            r.add("monitor", False, N_("no monitor: TTD and TTR cannot be measured"), "system.monitor.url")
            return
        url = c.monitor.url + c.monitor.status_path
        status, answer = await self._get(url)
        if status != 200:
            self.answered("monitor", "monitor GET", url, status, answer,
                          "system.monitor.url" if status is None else "system.monitor.status_path")
            return
        replicas = len(c.replicas.urls)
        states = monitor_states(answer, c.monitor, replicas)
        rows = pick(answer, c.monitor.rows_path)
        if not isinstance(rows, (list, dict)) or not rows:
            where = find_path(answer, c.monitor.instance_field)
            r.add("monitor", False, N_("monitor GET {url}: no rows at {path!r}"), "system.monitor.rows_path" + (
                f": {where!r}" if where is not None else " / system.monitor.instance_field"), url=url,
                path=c.monitor.rows_path)
            return
        r.instance_ids = {n: s["id"] for n, s in states.items()}
        r.words = {n: s["word"] for n, s in states.items()}
        missing = [n for n in range(1, replicas + 1) if n not in states]
        if missing:
            seen = [str(k) for k, _row in rows_of(rows, "", c.monitor.instance_field)]
            r.add("monitor", False, NO_ROW, "system.monitor.instances / system.monitor.service_name", url=url,
                  missing=", ".join(map(str, missing)), count=len(missing), seen=", ".join(seen) or "-")
            return
        unknown = {n: s["word"] for n, s in states.items() if s["status"] == "UNKNOWN"}
        r.monitor = True
        r.add("monitor", True, N_("monitor GET {url}: replicas {ids}; words {words}"), url=url,
              ids=", ".join(f"{n} = {s['id']!r}" for n, s in sorted(states.items())),
              words=", ".join(f"{n}: {s['word']!r}" for n, s in sorted(states.items())))
        if unknown:
            r.add("monitor", False, N_("monitor: status words that are neither ON nor OFF: {words}"),
                  "system.monitor.on_words / system.monitor.off_words (or system.monitor.status_field)",
                  words=", ".join(f"{n}: {w!r}" for n, w in sorted(unknown.items())))

    async def orders(self, write: bool) -> None:
        c, r = self.contract, self.result
        url = c.orders.url + c.orders.health_path
        status, answer = await self._get(url)
        self.answered("orders", "orders GET", url, status, answer, "system.orders.url / system.orders.health_path")
        if not write:
            r.add("orders", True, N_("orders: no test order sent (read-only check)"))
            return
        url = c.orders.url + c.orders.create_path
        body = fill(c.orders.order_body, {"product_id": c.products[0], "quantity": 1, "key": "faultlab-check"})
        status, answer = await self._get(url, "POST", body)
        if status is None:
            self.answered("orders", "orders POST", url, status, answer, "system.orders.url", True)
            return
        if not 200 <= status < 300:
            r.add("orders", False, N_("orders POST {url} answered {said} to a test order of 1 unit"),
                  "system.orders.create_path / system.orders.order_body", True, url=url, said=_said(status, answer))
            return
        order_id = pick(answer, c.orders.order_id_path)
        if order_id is None or isinstance(order_id, (dict, list)):
            where = next((k for k in ("order_id", "id", "orderId") if k in (answer or {})), None) \
                if isinstance(answer, dict) else None
            r.add("orders", False, N_("orders POST {url}: a test order was accepted ({said}) but its id is not at "
                                      "{path!r}: no cancels"), "system.orders.order_id_path" + (
                f": {where!r}" if where else ""), url=url, said=_said(status, answer), path=c.orders.order_id_path)
            return
        r.add("orders", True, N_("orders POST {url}: a test order of 1 unit accepted (id {id})"), url=url,
              id=str(order_id))
        if c.orders.status_path is not None:
            one = c.orders.url + fill(c.orders.status_path, {"id": order_id})
            status, answer = await self._get(one)
            said = pick(answer, c.orders.status_field) if status == 200 else None
            r.order_status = said is not None
            setting = "system.orders.status_path (null: it has none) / system.orders.status_field"
            if status is None:
                self.answered("orders", "orders GET", one, status, answer, setting)
            else:
                r.add("orders", r.order_status, N_("orders GET {url} answered {said}; status {status}"), setting,
                      url=one, said=_said(status, answer), status=repr(said))
        cancel = c.orders.url + fill(c.orders.cancel_path, {"id": order_id})
        status, answer = await self._get(cancel, c.orders.cancel_method)
        setting = "system.orders.cancel_path / system.orders.cancel_method"
        if status is None:
            self.answered("orders", f"orders {c.orders.cancel_method}", cancel, status, answer, setting)
            return
        r.cancels = 200 <= status < 300
        r.add("orders", r.cancels, N_("orders {method} {url} answered {said}: the test order cancelled") if r.cancels
              else N_("orders {method} {url} answered {said}: the test order not cancelled (no cancels in the load)"),
              setting, method=c.orders.cancel_method, url=cancel, said=_said(status, answer))

    def commands(self) -> None:
        c, r = self.contract, self.result
        for name, template, without in (
                ("restart_command", c.replicas.restart_command,
                 N_("no restart command: a crashed replica is not brought back (recovery not measured)")),
                ("stop_command", c.replicas.stop_command, N_("no stop command: two-down is skipped")),
                ("start_command", c.replicas.start_command, N_("no start command: two-down is skipped"))):
            if template is None:
                r.add("commands", False, without, f"system.replicas.{name}")
                continue
            why = runnable(template)
            r.add("commands", why is None, N_("{name}: {command} ({why})") if why else N_("{name}: {command}"),
                  f"system.replicas.{name}", name=name, command=template, why=why)

