-- The one schema every service shares (the guide's init.sql). run.sh runs it at every `up`, so each run starts
-- from the initial stock; the stock rows themselves are inserted by run.sh (GUIDE_STOCK).
DROP TABLE IF EXISTS orders, inventory, instance_status, failure_audit;

CREATE TABLE orders (
    order_id    UUID PRIMARY KEY,
    product_id  VARCHAR(32) NOT NULL,
    quantity    INTEGER NOT NULL,
    customer_id VARCHAR(64),
    status      VARCHAR(16) NOT NULL DEFAULT 'PENDING',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- ONE inventory table for the three replicas (the flaw "every order is reserved three times").
CREATE TABLE inventory (
    product_id         VARCHAR(32) PRIMARY KEY,
    available_quantity INTEGER NOT NULL,
    reserved_quantity  INTEGER NOT NULL DEFAULT 0,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE instance_status (
    service_name         VARCHAR(64) NOT NULL,
    instance_id          VARCHAR(16) NOT NULL,
    status               VARCHAR(8) NOT NULL DEFAULT 'UNKNOWN',
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_health_check    TIMESTAMPTZ,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (service_name, instance_id)
);

CREATE TABLE failure_audit (
    id           SERIAL PRIMARY KEY,
    service_name VARCHAR(64) NOT NULL,
    instance_id  VARCHAR(16) NOT NULL,
    failure_type VARCHAR(32) NOT NULL,
    detected_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at  TIMESTAMPTZ,
    details      TEXT
);
