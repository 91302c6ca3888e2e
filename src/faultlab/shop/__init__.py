"""The shop: faultlab's reference system under test — orders, inventory replicas, monitor and voter."""
