"""The lab's services: orders, inventory replicas, monitor, voter, dashboard."""
