"""The data behind the ``huge`` answer: the tables of Orchard, a made-up online shop.

Each entity becomes one chapter of the answer (see ``longform.py``). Field kinds are ``text``,
``int``, ``money`` (integer minor units), ``bool``, ``time``, ``json``, ``uuid``,
``ref:<table>`` and ``enum:<a>|<b>|...``; a trailing ``?`` makes the column nullable.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    description: str


@dataclass(frozen=True)
class Entity:
    singular: str
    plural: str
    summary: str
    fields: tuple[Field, ...]
    rules: tuple[str, ...]


def _entity(
    singular: str,
    plural: str,
    summary: str,
    fields: list[tuple[str, str, str]],
    rules: list[str],
) -> Entity:
    return Entity(singular, plural, summary, tuple(Field(*f) for f in fields), tuple(rules))


ENTITIES: tuple[Entity, ...] = (
    _entity(
        "customer",
        "customers",
        "A customer is a person or a company that can sign in and place orders.",
        [
            ("email", "text", "Sign-in and contact address, stored lower-case"),
            ("display_name", "text", "The name shown in the interface and on invoices"),
            ("country", "text", "ISO 3166-1 alpha-2 code, used for tax and shipping"),
            ("status", "enum:active|suspended|closed", "Whether the customer may sign in"),
            ("marketing_opt_in", "bool", "Consent to marketing email; off until given"),
        ],
        [
            "Email addresses are unique, compared case-insensitively.",
            "Closing an account keeps its orders: order history is never deleted with a customer.",
        ],
    ),
    _entity(
        "address",
        "addresses",
        "An address is a place a customer ships to or is billed at.",
        [
            ("customer_id", "ref:customers", "The customer who owns the address"),
            ("label", "text", "A short name the customer chose, such as Home or Office"),
            ("line1", "text", "Street and number"),
            ("city", "text", "City or town"),
            ("postal_code", "text?", "Postal code, where the country has them"),
            ("country", "text", "ISO 3166-1 alpha-2 code"),
            ("is_default", "bool", "Preselected at checkout"),
        ],
        [
            "A customer has at most one default address.",
            "Orders copy the address they ship to, so editing an address never rewrites history.",
        ],
    ),
    _entity(
        "product",
        "products",
        "A product is something Orchard sells, identified by its SKU.",
        [
            ("sku", "text", "Stock keeping unit, printed on the shelf label"),
            ("title", "text", "The product name shown in the shop"),
            ("description", "text?", "Markdown description for the product page"),
            ("status", "enum:draft|active|retired", "Only active products can be bought"),
            ("weight_grams", "int", "Shipping weight including packaging"),
        ],
        [
            "SKUs are unique and never reused, even after a product is retired.",
            "A retired product stays readable, because old orders point at it.",
        ],
    ),
    _entity(
        "price",
        "prices",
        "A price says what a product costs in one currency over a period of time.",
        [
            ("product_id", "ref:products", "The product this price is for"),
            ("currency", "text", "ISO 4217 code such as EUR or USD"),
            ("amount_minor", "money", "The price in minor units, tax included"),
            ("valid_from", "time", "First moment the price applies"),
            ("valid_until", "time?", "First moment it no longer applies; open-ended if null"),
        ],
        [
            "Prices for one product and currency never overlap in time.",
            "A price is never edited once it has been valid: a change is a new row.",
        ],
    ),
    _entity(
        "warehouse",
        "warehouses",
        "A warehouse stores stock and ships parcels.",
        [
            ("code", "text", "Three-letter code used on labels, such as AMS"),
            ("name", "text", "Full name for people"),
            ("country", "text", "ISO 3166-1 alpha-2 code"),
            ("timezone", "text", "IANA zone, used for cut-off times"),
            ("accepts_returns", "bool", "Whether returned parcels may be sent here"),
        ],
        [
            "Warehouse codes are unique and upper-case.",
            "A warehouse with stock on hand cannot be deleted.",
        ],
    ),
    _entity(
        "inventory_item",
        "inventory_items",
        "An inventory item is the stock of one product in one warehouse.",
        [
            ("product_id", "ref:products", "The product in stock"),
            ("warehouse_id", "ref:warehouses", "Where it is stored"),
            ("on_hand", "int", "Units physically present"),
            ("reserved", "int", "Units promised to paid orders not yet shipped"),
            ("reorder_level", "int", "Reorder when on_hand minus reserved drops below this"),
        ],
        [
            "Reserved units never exceed units on hand.",
            "There is one row per product and warehouse.",
        ],
    ),
    _entity(
        "cart",
        "carts",
        "A cart collects products before checkout; guests have carts too.",
        [
            ("customer_id", "ref:customers?", "Null while the shopper is a guest"),
            ("currency", "text", "All prices in a cart share one currency"),
            ("status", "enum:open|converted|abandoned", "Converted carts became orders"),
            ("expires_at", "time", "Open carts past this moment are abandoned"),
        ],
        [
            "A customer has at most one open cart.",
            "A converted cart is read-only.",
        ],
    ),
    _entity(
        "cart_item",
        "cart_items",
        "A cart item is one product line in a cart.",
        [
            ("cart_id", "ref:carts", "The cart it belongs to"),
            ("product_id", "ref:products", "The product chosen"),
            ("quantity", "int", "How many, at least one"),
            ("unit_price_minor", "money", "The price when the item was added"),
        ],
        [
            "A product appears at most once per cart; adding it again raises the quantity.",
            "The unit price is rechecked at checkout and the shopper is told if it changed.",
        ],
    ),
    _entity(
        "order",
        "orders",
        "An order is a checked-out cart that a customer has committed to buy.",
        [
            ("customer_id", "ref:customers", "Who placed the order"),
            ("cart_id", "ref:carts?", "The cart it came from, if any"),
            ("status", "enum:pending|paid|shipped|delivered|cancelled", "Where the order is"),
            ("currency", "text", "The currency of every amount on the order"),
            ("total_minor", "money", "Sum of the lines, after discounts, tax included"),
            ("placed_at", "time", "When the customer pressed the button"),
        ],
        [
            "An order's total always equals the sum of its lines.",
            "Only pending and paid orders can be cancelled.",
            "Status moves forward only: a delivered order never becomes shipped again.",
        ],
    ),
    _entity(
        "order_line",
        "order_lines",
        "An order line is one product on an order, priced at the time of purchase.",
        [
            ("order_id", "ref:orders", "The order it belongs to"),
            ("product_id", "ref:products", "The product bought"),
            ("quantity", "int", "How many"),
            ("unit_price_minor", "money", "Price per unit when the order was placed"),
            ("discount_minor", "money", "Discount applied to this line"),
        ],
        [
            "Lines are written once, when the order is placed, and never edited.",
            "The discount never exceeds quantity times unit price.",
        ],
    ),
    _entity(
        "payment",
        "payments",
        "A payment is money moving from a customer to Orchard for an order.",
        [
            ("order_id", "ref:orders", "The order being paid"),
            ("provider", "enum:card|paypal|bank_transfer", "How the customer paid"),
            ("status", "enum:authorized|captured|failed|voided", "The provider's latest word"),
            ("amount_minor", "money", "The amount authorized or captured"),
            ("provider_reference", "text", "The provider's own id, for support cases"),
        ],
        [
            "Provider references are unique per provider.",
            "Captured amounts for one order never exceed the order's total.",
        ],
    ),
    _entity(
        "refund",
        "refunds",
        "A refund returns part or all of a payment.",
        [
            ("payment_id", "ref:payments", "The payment being refunded"),
            ("amount_minor", "money", "How much goes back"),
            ("reason", "enum:damaged|late|unwanted|other", "Why, as the customer told us"),
            ("status", "enum:requested|approved|paid|rejected", "Where the refund is"),
        ],
        [
            "The refunds of one payment never add up to more than it captured.",
            "A rejected refund keeps its row, with the reason in the audit log.",
        ],
    ),
    _entity(
        "invoice",
        "invoices",
        "An invoice is the legal record of a sale.",
        [
            ("order_id", "ref:orders", "The order invoiced"),
            ("number", "text", "Sequential number, without gaps, per country"),
            ("issued_at", "time", "When it was issued"),
            ("due_at", "time", "When payment is due"),
            ("total_minor", "money", "Total including tax"),
            ("pdf_url", "text?", "Where the rendered PDF is stored"),
        ],
        [
            "Invoice numbers have no gaps, which rules out a plain database sequence.",
            "An issued invoice is never changed; corrections are credit notes.",
        ],
    ),
    _entity(
        "shipment",
        "shipments",
        "A shipment is the part of an order that leaves one warehouse together.",
        [
            ("order_id", "ref:orders", "The order shipped"),
            ("warehouse_id", "ref:warehouses", "Where it ships from"),
            ("carrier", "enum:dhl|ups|postnl|fedex", "Who carries it"),
            ("tracking_number", "text?", "Known once the carrier accepts it"),
            ("shipped_at", "time?", "When the carrier picked it up"),
            ("delivered_at", "time?", "When the carrier reported delivery"),
        ],
        [
            "Delivery is never before shipping.",
            "An order can have several shipments, but each order line ships once.",
        ],
    ),
    _entity(
        "parcel",
        "parcels",
        "A parcel is one box in a shipment.",
        [
            ("shipment_id", "ref:shipments", "The shipment it belongs to"),
            ("weight_grams", "int", "Measured weight"),
            ("length_mm", "int", "Outer length"),
            ("width_mm", "int", "Outer width"),
            ("height_mm", "int", "Outer height"),
        ],
        [
            "All dimensions are positive and at most 1,200 mm.",
            "The measured weight is what the carrier bills; it is never estimated.",
        ],
    ),
    _entity(
        "return_request",
        "return_requests",
        "A return request is a customer asking to send something back.",
        [
            ("order_id", "ref:orders", "The order the goods came from"),
            ("reason", "text", "The customer's own words"),
            ("status", "enum:open|received|refunded|declined", "Where the return is"),
            ("received_at", "time?", "When the warehouse received the goods"),
        ],
        [
            "Returns are accepted for 30 days after delivery.",
            "A refund for a return is only paid after the goods are received.",
        ],
    ),
    _entity(
        "review",
        "reviews",
        "A review is a customer's rating and opinion of a product.",
        [
            ("product_id", "ref:products", "The product reviewed"),
            ("customer_id", "ref:customers", "The author"),
            ("rating", "int", "One to five stars"),
            ("title", "text", "A one-line summary"),
            ("body", "text", "The review itself, in plain text"),
            ("published", "bool", "Hidden until moderation approves it"),
        ],
        [
            "A customer reviews a product at most once, and only after buying it.",
            "Reviews are shown as plain text: markup in them is never rendered.",
        ],
    ),
    _entity(
        "coupon",
        "coupons",
        "A coupon is a code that takes money off an order.",
        [
            ("code", "text", "What the customer types, upper-case"),
            ("percent_off", "int?", "A percentage discount, or null"),
            ("amount_off_minor", "money?", "A fixed discount, or null"),
            ("max_redemptions", "int?", "How many times it may be used in total"),
            ("expires_at", "time?", "Last moment it can be used"),
        ],
        [
            "Exactly one of percent_off and amount_off_minor is set.",
            "Redemptions are counted when the order is paid, not when the code is typed.",
        ],
    ),
    _entity(
        "gift_card",
        "gift_cards",
        "A gift card is prepaid credit that can pay for orders.",
        [
            ("code_hash", "text", "Hash of the card code; the code itself is never stored"),
            ("currency", "text", "The card's currency"),
            ("initial_minor", "money", "The value it was sold with"),
            ("balance_minor", "money", "What is left"),
            ("expires_at", "time?", "Where local law allows expiry at all"),
        ],
        [
            "The balance is never negative and never above the initial value.",
            "Every balance change is also written to the audit log.",
        ],
    ),
    _entity(
        "subscription",
        "subscriptions",
        "A subscription bills a customer for a product at a regular interval.",
        [
            ("customer_id", "ref:customers", "Who pays"),
            ("product_id", "ref:products", "What they subscribe to"),
            ("interval", "enum:month|year", "How often it renews"),
            ("status", "enum:trialing|active|past_due|cancelled", "Billing state"),
            ("current_period_end", "time", "When the next renewal is due"),
        ],
        [
            "A past-due subscription is retried three times over a week before it is cancelled.",
            "Cancelling takes effect at the end of the current period, never mid-period.",
        ],
    ),
    _entity(
        "support_ticket",
        "support_tickets",
        "A support ticket is a conversation between a customer and the support team.",
        [
            ("customer_id", "ref:customers", "Who asked"),
            ("order_id", "ref:orders?", "The order it is about, if any"),
            ("subject", "text", "The first line of the question"),
            ("priority", "enum:low|normal|high|urgent", "Set by triage"),
            ("status", "enum:new|open|waiting|solved", "Whose turn it is"),
        ],
        [
            "Urgent tickets are answered within one hour, around the clock.",
            "A solved ticket reopens when the customer replies.",
        ],
    ),
    _entity(
        "notification",
        "notifications",
        "A notification is one message sent to a customer.",
        [
            ("customer_id", "ref:customers", "The recipient"),
            ("channel", "enum:email|sms|push", "How it was sent"),
            ("template", "text", "The template name, such as order_shipped"),
            ("sent_at", "time?", "When the provider accepted it"),
            ("opened_at", "time?", "When it was first opened, where that can be known"),
        ],
        [
            "Marketing notifications need the customer's opt-in; order updates do not.",
            "A notification is sent at most once, even when its job is retried.",
        ],
    ),
    _entity(
        "webhook",
        "webhooks",
        "A webhook tells a partner's server about events as they happen.",
        [
            ("url", "text", "HTTPS endpoint to call"),
            ("secret_hash", "text", "Hash of the signing secret"),
            ("events", "text", "Comma-separated event names to send"),
            ("active", "bool", "Paused webhooks receive nothing"),
            ("last_failure_at", "time?", "When a call last failed"),
        ],
        [
            "Only HTTPS URLs are accepted, and never ones that resolve to private addresses.",
            "After 24 hours of failures a webhook is paused and its owner told.",
        ],
    ),
    _entity(
        "audit_event",
        "audit_events",
        "An audit event records who changed what, and when.",
        [
            ("actor", "text", "A user id, a service name, or system"),
            ("action", "text", "A verb such as refund.approved"),
            ("subject_table", "text", "The table of the changed row"),
            ("subject_id", "uuid", "The id of the changed row"),
            ("payload", "json", "The change itself, before and after"),
        ],
        [
            "Audit events are append-only: no role can update or delete them.",
            "They are kept for seven years.",
        ],
    ),
)
