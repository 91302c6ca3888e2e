"""The voter's HTTP API (port 5005): named handlers and one route table — faultlab's paths and the guide's aliases.

The guide's paths (`GET /inventory`, `GET /inventory/{product_id}`, `GET /voting-stats`) are the same voted read as
`/inventory/voted…` with the guide's fields added (`guide_api.py` makes them).
"""

from __future__ import annotations

from aiohttp import web

from faultlab.core.config import Settings
from faultlab.core.guide import health_body, iso
from faultlab.core.web import ApiError, create_app, json_response
from faultlab.openapi.voter import openapi_document as voter_openapi
from faultlab.shop.voter.guide_api import guide_fields, voting_stats
from faultlab.shop.voter.majority_voter import MajorityVoter


class VoterApi:
    """The handlers of the voter's API, over the voter that reads."""

    def __init__(self, settings: Settings, voter: MajorityVoter) -> None:
        self.settings = settings
        self.voter = voter
        self.products = sorted(settings.initial_stock)

    def routes(self) -> list[web.RouteDef]:
        """Every path of the API, next to its handler (the guide's /inventory/{product_id} after /inventory/voted)."""
        return [
            web.get("/inventory/voted", self.voted_all),
            web.get("/inventory/voted/{product_id}", self.voted_one),
            web.get("/voting/stats", self.stats),
            web.get("/health", self.health),
            web.get("/inventory", self.guide_all),
            web.get("/inventory/{product_id}", self.guide_one),
            web.get("/voting-stats", self.guide_stats),
        ]

    def build(self) -> web.Application:
        app = create_app(self.settings, "voter", self.voter.log, openapi=voter_openapi(self.settings))
        app.add_routes(self.routes())
        return app

    def _product(self, request: web.Request) -> str:
        product_id = request.match_info["product_id"]
        if product_id not in self.settings.initial_stock:
            raise ApiError(404, f"unknown product {product_id[:32]!r}", known=self.products)
        return product_id

    async def voted_all(self, _request: web.Request) -> web.Response:
        status, body = await self.voter.read("/inventory", self.products)
        return json_response(body, status=status)

    async def voted_one(self, request: web.Request) -> web.Response:
        product_id = self._product(request)
        status, body = await self.voter.read(f"/inventory/{product_id}", [product_id])
        return json_response(body, status=status)

    async def stats(self, _request: web.Request) -> web.Response:
        return json_response(self.voter.describe())

    async def health(self, _request: web.Request) -> web.Response:
        return json_response(health_body("voter", True, replicas=self.voter.replicas))

    # ---- the guide's paths ----------------------------------------------------------------------------------------

    async def guide_all(self, _request: web.Request) -> web.Response:
        voter = self.voter
        status, body = await voter.read("/inventory", self.products)
        return json_response({**body, **guide_fields(body, None, voter.need, len(voter.replicas))}, status=status)

    async def guide_one(self, request: web.Request) -> web.Response:
        product_id = self._product(request)
        voter = self.voter
        status, body = await voter.read(f"/inventory/{product_id}", [product_id])
        return json_response({**body, **guide_fields(body, product_id, voter.need, len(voter.replicas))},
                             status=status)

    async def guide_stats(self, _request: web.Request) -> web.Response:
        described = self.voter.describe()
        latency = self.voter.stats.latency
        min_ms = round(latency.hist.get_min_value() / 1000, 3) if latency.count else None
        return json_response({**described, "voting_stats": voting_stats(described, min_ms), "timestamp": iso()})
