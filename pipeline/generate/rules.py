"""The rule set written next to the events (contract section 3): plans, accounts, SLAs, fraud.

Fixed, not seeded, so data generated with another seed shares them. It exercises what the
events are built to hit: mid-period price changes, contracts that start or end mid-period,
destinations without a price, an account-less subject, probe-driven SLA credits.
"""

from __future__ import annotations

RULES: dict[str, str] = {
    "plans/ads-standard.yaml": """\
# List-price display advertising; prices change mid-February.
plan: ads-standard
currency: EUR
timezone: Europe/Warsaw
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    monthly_fee: "50.00"
    minimum_spend: "100.00"
    charges:
      ad.click: {model: per_unit, price: "0.35"}
      ad.impression: {model: per_unit, price: "2.10", per: 1000}
  - effective_from: "2026-02-16T00:00:00Z"
    monthly_fee: "50.00"
    minimum_spend: "100.00"
    charges:
      ad.click: {model: per_unit, price: "0.38"}
      ad.impression: {model: per_unit, price: "2.25", per: 1000}
""",
    "plans/ads-premium.yaml": """\
# Premium inventory in USD; new prices from noon UTC on 15 March.
plan: ads-premium
currency: USD
timezone: America/New_York
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    monthly_fee: "120.00"
    charges:
      ad.click: {model: per_unit, price: "0.50"}
      ad.impression: {model: per_unit, price: "3.3333", per: 1000}
  - effective_from: "2026-03-15T12:00:00Z"
    monthly_fee: "150.00"
    charges:
      ad.click: {model: per_unit, price: "0.45"}
      ad.impression: {model: per_unit, price: "3.00", per: 1000}
""",
    "plans/ads-volume.yaml": """\
# Volume deal: impressions priced by monthly volume, clicks by graduated tiers.
plan: ads-volume
currency: EUR
timezone: UTC
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    charges:
      ad.impression:
        model: volume
        per: 1000
        tiers: [{up_to: 100000, price: "2.00"}, {up_to: 1000000, price: "1.50"}, {price: "1.00"}]
      ad.click:
        model: graduated
        tiers: [{up_to: 1000, price: "0.40"}, {up_to: 10000, price: "0.30"}, {price: "0.20"}]
""",
    "plans/telco-basic.yaml": """\
# Retail telecom: per-minute voice by destination with an off-peak discount, graduated data.
# +49 and +33 have no voice price here: such calls are unbilled (no_destination).
plan: telco-basic
currency: PLN
timezone: Europe/Warsaw
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    monthly_fee: "29.99"
    charges:
      telecom.voice:
        model: per_unit
        per: 60
        increment: 60
        minimum: 60
        destinations: [{prefix: "+48", price: "0.10"}, {prefix: "+4860", price: "0.15"},
                       {prefix: "+44", price: "0.40"}, {prefix: "+1", price: "0.60"}]
        peak: {days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00"}
        off_peak_factor: "0.5"
      telecom.sms:
        model: per_unit
        destinations: [{prefix: "+", price: "0.05"}, {prefix: "+1", price: "0.20"}]
      telecom.data:
        model: graduated
        per: 1048576
        increment: 1024
        tiers: [{up_to: 104857600, price: "0"}, {up_to: 524288000, price: "0.02"},
                {price: "0.01"}]
  - effective_from: "2026-02-20T06:00:00Z"   # new price list, mid-period
    monthly_fee: "34.99"
    charges:
      telecom.voice:
        model: per_unit
        per: 60
        increment: 1
        minimum: 30
        destinations: [{prefix: "+48", price: "0.09"}, {prefix: "+4860", price: "0.12"},
                       {prefix: "+44", price: "0.35"}, {prefix: "+1", price: "0.55"}]
        peak: {days: [mon, tue, wed, thu, fri], from: "07:00", to: "19:00"}
        off_peak_factor: "0.4"
      telecom.sms: {model: per_unit, price: "0.05"}
      telecom.data:
        model: graduated
        per: 1048576
        increment: 1024
        tiers: [{up_to: 209715200, price: "0"}, {price: "0.015"}]
""",
    "plans/telco-volume.yaml": """\
# Wholesale telecom: per-second voice, volume-priced data; no SMS charge (no_tariff).
plan: telco-volume
currency: EUR
timezone: UTC
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    charges:
      telecom.voice: {model: per_unit, increment: 1, destinations: [{prefix: "+", price: "0.002"}]}
      telecom.data:
        model: volume
        per: 1048576
        tiers: [{up_to: 52428800, price: "0.05"}, {up_to: 262144000, price: "0.03"},
                {price: "0.015"}]
  - effective_from: "2026-03-10T12:00:00Z"
    charges:
      telecom.voice: {model: per_unit, increment: 6, minimum: 30, price: "0.0015"}
      telecom.data:
        model: volume
        per: 1048576
        tiers: [{up_to: 104857600, price: "0.04"}, {price: "0.01"}]
""",
    "accounts.yaml": """\
# Contracts start (globex, stark, vandelay) or end (initech, soylent) mid-period.
# Events also name `wayne` and `oscorp`, which have no account (unknown_account).
accounts:
  - {id: acme, plan: ads-standard, tax_rate: "23", sla: gold, valid_from: "2026-01-01T00:00:00Z"}
  - {id: globex, plan: ads-premium, tax_rate: "8.875", sla: silver,
     valid_from: "2026-01-10T00:00:00Z"}
  - {id: hooli, plan: ads-standard, tax_rate: "0"}
  - {id: initech, plan: telco-basic, tax_rate: "23", valid_from: "2026-01-01T00:00:00Z",
     valid_to: "2026-03-25T00:00:00Z"}
  - {id: soylent, plan: ads-volume, tax_rate: "19", valid_to: "2026-03-20T00:00:00Z"}
  - {id: stark, plan: telco-basic, tax_rate: "23", sla: net, valid_from: "2026-01-15T00:00:00Z"}
  - {id: umbrella, plan: telco-volume, tax_rate: "20", sla: net}
  - {id: vandelay, plan: ads-standard, tax_rate: "23", sla: gold,
     valid_from: "2026-01-20T12:00:00Z"}
""",
    "slas.yaml": """\
slas:
  gold:
    service: portal
    probe_failures_to_open: 3
    credits: [{below: "99.9", percent: "10"}, {below: "99.0", percent: "25"},
              {below: "95.0", percent: "50"}]
    applies_to: [ad.click, ad.impression]
    max_credit_percent: "50"
  silver:
    service: portal
    probe_failures_to_open: 2
    credits: [{below: "99.5", percent: "5"}, {below: "98.0", percent: "15"}]
    applies_to: [ad.click]
    max_credit_percent: "10"
  net:   # probe_failures_to_open: the default, 3
    service: network
    credits: [{below: "99.95", percent: "5"}, {below: "99.5", percent: "20"}]
    applies_to: [telecom.voice, telecom.data]
    max_credit_percent: "30"
""",
    "fraud.yaml": """\
bot_user_agents: [bot, crawler, spider, headless]
attribution_window_s: 3600
max_clicks_per_ip_per_minute: 5
""",
}
