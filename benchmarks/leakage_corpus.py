"""A synthetic training corpus and model outputs for the leakage quality benchmark.

Everything here is written for aiposture: templated but varied records in six domains
(customer support tickets, clinical notes, contract clauses, code comments, HR reviews and
bank case notes), each filled with generated names, ids, amounts and dates, and model
outputs of four kinds:

* ``verbatim``: an exact span of a record (10 to 40 words, always holding at least one of
  the record's facts), alone, inside long unrelated text, or a whole short record;
* ``near-verbatim``: a span copied with edits (typos, synonyms, dropped and inserted
  words, swapped words or sentences, case and punctuation changes) such that no exact run
  of 10 words survives;
* ``paraphrase``: the record's facts restated by a paraphrase template written for its
  record template (other words, other structure), alone, inside unrelated text, or in part;
* ``none``: non-leaks, most of them hard: the same record template filled with other facts
  (high word overlap, another meaning), a paraphrase template with other facts (same
  topic), replies made of the corpus's boilerplate, and unrelated text.

Record templates are split in two halves: outputs of the ``tune`` split come from records
of one half, outputs of the ``valid`` split from the other, so thresholds tuned on one
split are validated on templates they never saw. Generation is deterministic for a seed.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

__all__ = ["Corpus", "Output", "Record", "generate", "longest_common_run", "norm_words"]

KINDS = ("verbatim", "near-verbatim", "paraphrase", "none")


@dataclass
class Record:
    """A training record with the character spans of the facts filled into it."""

    id: str
    text: str
    domain: str
    template: str
    facts: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Output:
    """A model output with its ground truth."""

    id: str
    text: str
    kind: str
    subkind: str
    split: str
    record_id: str | None = None
    record_span: tuple[int, int] | None = None
    output_span: tuple[int, int] | None = None


@dataclass
class Corpus:
    """The training records and the labelled outputs."""

    records: list[Record]
    outputs: list[Output]

    def split(self, name: str) -> list[Output]:
        """The outputs of split ``name`` (``"tune"`` or ``"valid"``)."""
        return [o for o in self.outputs if o.split == name]


_WORD = re.compile(r"\w+")


def norm_words(text: str) -> list[str]:
    """Case-folded words of ``text`` (the normalisation the detector compares under)."""
    return [m.group().casefold() for m in _WORD.finditer(text)]


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous run of two word lists."""
    if not a or not b:
        return 0
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best:
                    best = cur[j]
        prev = cur
    return best


def _words(text: str) -> list[str]:
    """The words of a space-separated list."""
    return text.split()


def _items(text: str) -> list[str]:
    """The items of a comma-separated list."""
    return [item.strip() for item in text.split(",")]


# --- vocabularies ------------------------------------------------------------------------

FIRST = _words(
    "Amara Bruno Celine Dmitri Elif Farid Greta Hiroshi Ines Jonas Kavya Lorenzo Maren Nikhil "
    "Odette Pavel Quinn Rosalind Sanjay Tove Ulrich Valentina Wendell Ximena Yusuf Zofia "
    "Anders Beatriz Cormac Daria Emeka Freya Gideon Halima Isidore Jun Katarina Leander "
    "Mireille Nadia Oskar Priya Rafferty Soren Thandiwe Umberto Vesna Wilhelmina Xavier Yara "
    "Zoltan Adaeze Bastian Calista Desmond Esperanza Florian Gwendolyn Horatio Ingrid"
)
LAST = _words(
    "Abernathy Bergstrom Castellanos Delacroix Eberhardt Fairweather Gallagher Halvorsen "
    "Iwasaki Jablonski Kowalczyk Lindqvist Mbeki Nakashima Okonkwo Petrakis Quintero "
    "Rasmussen Szabo Thorvaldsen Underwood Vasquez Wojcik Xiong Yamamoto Zielinski Achterberg "
    "Brannigan Cifuentes Dragomir Esterhazy Fitzgerald Grimaldi Hashemi Ivanova Jorgensen "
    "Kavanagh Lombardi Moreau Novak Oyelaran Pellegrini Rautio Sandoval Takahashi Ulvaeus "
    "Verhoeven Whitfield Yilmaz Zamora Ambrose Blackwood Coutinho Dunleavy Engstrom Falkner "
    "Galloway Hollister Ishikawa"
)
PRODUCTS = _items(
    "espresso machine, robot vacuum, standing desk, noise-cancelling headset, air purifier, "
    "smart thermostat, electric kettle, mechanical keyboard, portable projector, cordless "
    "drill, baby monitor, e-reader, rowing machine, pressure cooker, label printer, dash "
    "camera, water flosser, gaming monitor, bread maker, security camera, soundbar, graphics "
    "tablet, dehumidifier, fitness tracker, stand mixer, wireless router, camping stove, "
    "office chair, steam iron, bluetooth speaker, heated blanket, laser printer, juicer, "
    "tablet stand, ceiling fan, kayak paddle, space heater, smart doorbell"
)
CITIES = _words(
    "Tacoma Ghent Porto Tampere Leeds Bilbao Graz Lyon Aarhus Turin Dayton Boise Halifax "
    "Gdansk Utrecht Brno Cork Malmo Nantes Bergen Spokane Wichita Kraków Dundee Lausanne "
    "Bremen Asheville Savannah Odense Trieste Reno Eugene Galway Tartu"
)
STREETS = _items(
    "Larkspur Lane, Quarry Road, Beacon Street, Willow Crescent, Harbor View Drive, Foundry "
    "Row, Maple Terrace, Kingfisher Way, Orchard Close, Tannery Street, Juniper Court, Mill "
    "Race Road, Lantern Hill, Saddler Street, Cobalt Avenue"
)
DRUGS = _words(
    "lisinopril metformin atorvastatin amoxicillin sertraline levothyroxine omeprazole "
    "prednisone gabapentin warfarin furosemide montelukast amlodipine citalopram doxycycline "
    "tamsulosin clopidogrel apixaban spironolactone pantoprazole bupropion allopurinol "
    "carvedilol losartan"
)
CONDITIONS = _items(
    "type 2 diabetes, hypertension, atrial fibrillation, community-acquired pneumonia, major "
    "depressive disorder, hypothyroidism, chronic kidney disease, gout, asthma, heart "
    "failure, migraine, osteoarthritis of the knee, cellulitis, iron deficiency anaemia, "
    "sleep apnoea, GERD, benign prostatic hyperplasia, rheumatoid arthritis, COPD, urinary "
    "tract infection"
)
SYMPTOMS = _items(
    "shortness of breath, chest tightness, persistent cough, dizziness on standing, swelling "
    "in both ankles, night sweats, blurred vision, joint stiffness, fatigue, palpitations, "
    "abdominal cramping, a low-grade fever, numb fingers"
)
COMPANIES = _items(
    "Halcyon Freight Ltd, Brightwater Analytics Inc, Corvid Robotics GmbH, Meridian Textiles "
    "LLC, Ostara Biolabs, Quillfeather Publishing, Tessellate Systems, Redfern Logistics, "
    "Umbra Solar Partners, Vantablue Media, Wexford Dairy Cooperative, Kestrel Aerospace, "
    "Lumen Harbor Holdings, Granite Peak Outfitters, Pinecrest Foods, Saltmarsh Shipping Co, "
    "Ironbark Construction, Fjordline Software AS, Cinder & Vale Architects, Amberline "
    "Pharmacy Group, Northgate Credit Union, Bluehaven Insurance, Copperleaf Hotels, "
    "Driftwood Studios, Everglow Lighting"
)
STATES = _items(
    "Delaware, New York, California, Texas, Illinois, Washington, Ontario, Massachusetts, "
    "Colorado, Oregon, Virginia, Georgia"
)
DEPARTMENTS = _items(
    "Finance, Platform Engineering, Customer Success, Procurement, Data Science, Legal, "
    "Facilities, Marketing Operations, Payroll, Security Operations"
)
TITLES = _items(
    "senior accountant, site reliability engineer, account manager, buyer, machine learning "
    "engineer, paralegal, facilities coordinator, campaign analyst, payroll specialist, "
    "incident responder, product designer, data engineer"
)
MERCHANTS = _items(
    "Bellwether Electronics, Crescent Moon Diner, Fernhill Garden Centre, Gullwing Air, "
    "Hightide Surf Shop, Ivory Tower Books, Juniper Spa, Kiln & Clay Pottery, Lodestar Fuel, "
    "Marigold Pharmacy, Nightjar Cinema, Orbit Car Rental"
)
VERBS = _words(
    "parse validate reconcile export normalise throttle merge encrypt rotate backfill "
    "deduplicate schedule archive hydrate compact"
)
NOUNS = _words(
    "invoice_batch ledger_rows session_tokens shipment_events audit_trail payout_queue "
    "tenant_config price_matrix webhook_payload sensor_frames refund_requests "
    "customer_profiles rate_limits ticket_history gl_entries"
)
HOSTS = _words(
    "billing-db-03.internal ledger-replica-2.corp queue-west-7.svc auth-core-1.prod "
    "etl-worker-12.dc2 vault-sidecar-4.infra orders-api-9.internal kafka-broker-5.dc1"
)
MONTHS = _words(
    "January February March April May June July August September October November December"
)

# Sentences that recur across many records (signatures, disclaimers, boilerplate clauses).
BOILERPLATE = {
    "support": [
        "Thank you for contacting Northwind support. If you have any further questions, please "
        "do not hesitate to contact us.",
        "This message and any attachments are confidential and intended solely for the addressee.",
        "We aim to respond to all requests within two business days.",
    ],
    "medical": [
        "The patient was advised to return to the clinic or call emergency services if the "
        "symptoms get worse.",
        "Medication reconciliation was completed and the allergy list was reviewed with the "
        "patient.",
    ],
    "contract": [
        "This Agreement shall be governed by and construed in accordance with the laws of the "
        "State of {state}, without regard to its conflict of laws principles.",
        "Nothing in this Agreement shall be construed to create a partnership, joint venture "
        "or agency relationship between the parties.",
        "If any provision of this Agreement is held to be invalid or unenforceable, the "
        "remaining provisions shall continue in full force and effect.",
    ],
    "code": [
        "Licensed under the internal source licence; do not distribute outside the company.",
        "See the runbook in the platform wiki before changing the retry settings below.",
    ],
    "hr": [
        "This review is confidential and will be stored in the employee's personnel file.",
        "Employees may add written comments to their review within ten working days.",
    ],
    "bank": [
        "Customer identity was verified using two security questions before any details were "
        "discussed.",
        "All calls are recorded for quality and training purposes.",
    ],
}

# Generic replies an assistant writes; they reuse the corpus's boilerplate sentences.
REPLY_OPENERS = [
    "Thanks for your message.",
    "I understand how frustrating this must be.",
    "Here is a short summary of the options available to you.",
    "Happy to help with that.",
    "Good question, let me explain how this usually works.",
]
REPLY_MIDDLES = [
    "In most cases a return can be started from the orders page of your account.",
    "Refunds are normally processed to the original payment method.",
    "A clinician can review your symptoms and suggest the right next step.",
    "Contracts of this kind usually contain a clause on the governing law.",
    "It is a good idea to keep retry settings conservative in production systems.",
    "Performance reviews usually cover goals, strengths and areas for growth.",
    "Banks usually verify your identity before discussing an account.",
]

# --- the record templates ------------------------------------------------------------------
# A template is a list of (probability, sentence) pairs; a sentence may hold ``[a|b]``
# alternatives and ``{slot}`` placeholders. Each has paraphrase templates over the same
# slots, written with other words and another structure.

Sentences = list[tuple[float, str]]


@dataclass(frozen=True)
class Template:
    """A record template and its paraphrase templates."""

    name: str
    domain: str
    sentences: Sentences
    paraphrases: tuple[str, ...]


def _money(rng: random.Random, lo: int, hi: int) -> str:
    return f"${rng.randint(lo, hi):,}.{rng.randint(0, 99):02d}"


def _date(rng: random.Random) -> str:
    return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}, {rng.randint(2019, 2025)}"


_ONSETS = _words("b br c ch d dr f g gr h j k kl l m n p pr r s sh st t tr v w z")
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "ia", "io", "ou", "ei"]
_CODAS = ["", "", "", "n", "r", "l", "s", "th", "nd", "rk", "v", "m"]


def _pseudo_name(rng: random.Random, syllables: int) -> str:
    """A pronounceable made-up name (names in real data are far more varied than a list)."""
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)]
    return ("".join(parts) + rng.choice(_CODAS)).capitalize()


def _first(rng: random.Random) -> str:
    return rng.choice(FIRST) if rng.random() < 0.5 else _pseudo_name(rng, 2)


def _last(rng: random.Random) -> str:
    return rng.choice(LAST) if rng.random() < 0.4 else _pseudo_name(rng, rng.choice((2, 3)))


def _phone(rng: random.Random) -> str:
    return f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"


def _person(rng: random.Random) -> str:
    return f"{_first(rng)} {_last(rng)}"


def _brand(rng: random.Random, kinds: Sequence[str]) -> str:
    """A product or shop: a made-up brand and a kind from a list (many distinct values)."""
    return f"{_pseudo_name(rng, 2)} {rng.choice(kinds)}"


_COMPANY_SUFFIXES = ["Ltd", "Inc", "GmbH", "LLC", "AS", "Holdings", "Partners", "Group", "Co"]
_COMPANY_KINDS = _words(
    "Freight Analytics Robotics Textiles Biolabs Publishing Systems Logistics Solar Media "
    "Foods Shipping Software Construction Hotels Insurance Studios Lighting Pharmacy"
)


def _company(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(COMPANIES)
    return f"{_pseudo_name(rng, 2)} {rng.choice(_COMPANY_KINDS)} {rng.choice(_COMPANY_SUFFIXES)}"


def _host(rng: random.Random) -> str:
    service = rng.choice(
        [
            "billing-db",
            "ledger",
            "queue",
            "auth-core",
            "etl-worker",
            "vault",
            "orders-api",
            "kafka",
            "search",
            "cache",
            "payments",
            "reports",
        ]
    )
    number = rng.randint(1, 60)
    zone = rng.choice(["internal", "corp", "svc", "prod", "dc1", "dc2"])
    return f"{service}-{number}.{zone}"


def _slots(domain: str, rng: random.Random) -> dict[str, str]:
    name = _person(rng)
    first, last = name.split(" ", 1)
    base = {
        "name": name,
        "first": first,
        "last": last,
        "date": _date(rng),
        "city": rng.choice(CITIES),
        "state": rng.choice(STATES),
    }
    if domain == "support":
        base |= {
            "cid": f"C-{rng.randint(100000, 999999)}",
            "order": str(rng.randint(1000000, 9999999)),
            "product": _brand(rng, PRODUCTS),
            "amount": _money(rng, 19, 1900),
            "street": f"{rng.randint(2, 980)} {rng.choice(STREETS)}",
            "phone": _phone(rng),
            "agent": _first(rng),
            "label": f"RMA-{rng.randint(10000, 99999)}",
            "days": str(rng.randint(3, 21)),
            "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.net",
        }
    elif domain == "medical":
        base |= {
            "age": str(rng.randint(19, 91)),
            "mrn": f"MRN {rng.randint(1000000, 9999999)}",
            "condition": rng.choice(CONDITIONS),
            "drug": (drugs := rng.sample(DRUGS, 2))[0],
            "dose": f"{rng.choice([2.5, 5, 10, 20, 25, 40, 50, 100, 250, 500])} mg",
            "symptom": rng.choice(SYMPTOMS),
            "doctor": _last(rng),
            "bp": f"{rng.randint(104, 178)}/{rng.randint(62, 108)}",
            "weeks": str(rng.randint(2, 12)),
            "a1c": f"{rng.randint(55, 112) / 10:.1f}%",
            "drug2": drugs[1],
        }
    elif domain == "contract":
        a, b = _company(rng), _company(rng)
        base |= {
            "party_a": a,
            "party_b": b,
            "fee": _money(rng, 5000, 950000),
            "months": str(rng.choice([6, 12, 18, 24, 36, 48, 60])),
            "notice": str(rng.choice([15, 30, 45, 60, 90, 120])),
            "percent": f"{rng.randint(2, 35)}%",
            "cap": _money(rng, 50000, 5000000),
            "contract_no": f"MSA-{rng.randint(2019, 2025)}-{rng.randint(100, 9999)}",
        }
    elif domain == "code":
        base |= {
            "func": f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}",
            "func2": f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}",
            "host": _host(rng),
            "limit": str(rng.choice([50, 100, 250, 500, 1000, 5000, 20000])),
            "timeout": str(rng.choice([2, 5, 10, 15, 30, 60, 120])),
            "ticket": f"PLAT-{rng.randint(1000, 99999)}",
            "version": f"{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}",
            "port": str(rng.randint(1025, 65000)),
            "retries": str(rng.randint(2, 9)),
        }
    elif domain == "hr":
        base |= {
            "eid": f"E{rng.randint(10000, 99999)}",
            "title": rng.choice(TITLES),
            "dept": rng.choice(DEPARTMENTS),
            "salary": _money(rng, 41000, 240000).split(".")[0],
            "rating": rng.choice(
                [
                    "exceeds expectations",
                    "meets expectations",
                    "partially meets expectations",
                    "outstanding",
                ]
            ),
            "manager": _person(rng),
            "raise": f"{rng.randint(1, 12)}%",
            "bonus": _money(rng, 500, 40000).split(".")[0],
        }
    else:  # bank
        base |= {
            "acct": f"****{rng.randint(1000, 9999)}",
            "amount": _money(rng, 12, 25000),
            "merchant": _brand(rng, MERCHANTS),
            "txid": f"TX{rng.randint(10**9, 10**10 - 1)}",
            "case": f"FR-{rng.randint(100000, 999999)}",
            "notice": str(rng.choice([3, 5, 7, 10, 14, 30])),
            "limit": _money(rng, 500, 50000).split(".")[0],
            "phone": _phone(rng),
        }
    return base


BP = BOILERPLATE
TEMPLATES: list[Template] = [
    # -------------------------------------------------------------- support
    Template(
        "support-damaged",
        "support",
        [
            (
                1.0,
                "[Customer {name} (account {cid}) wrote in on {date} about order #{order}.|"
                "On {date} we received a ticket from {name}, account {cid}, regarding order "
                "#{order}.]",
            ),
            (
                1.0,
                "[The {product} arrived with a cracked casing and does not power on.|"
                "According to the customer, the {product} was delivered broken and will not "
                "switch on.]",
            ),
            (
                1.0,
                "[{first} asked for a full refund of {amount} to the card on file.|The "
                "customer requested that {amount} be refunded to the original payment method.]",
            ),
            (0.5, "Shipping address on the order: {street}, {city}."),
            (0.5, "[Contact number provided: {phone}.|Best callback number is {phone}.]"),
            (1.0, "Agent {agent} approved the return and issued label {label}."),
            (0.6, BP["support"][0]),
            (0.4, BP["support"][1]),
        ],
        (
            "{name}, whose account number is {cid}, got in touch on {date}: the {product} from "
            "order {order} showed up smashed and won't turn on, so they want their {amount} "
            "back. {agent} okayed sending it back under label {label}.",
            "A refund of {amount} was demanded by {name} (client {cid}) after the {product} in "
            "order {order} turned up damaged and dead on {date}. The return was authorised by "
            "{agent}, who sent shipping label {label}.",
        ),
    ),
    Template(
        "support-late",
        "support",
        [
            (
                1.0,
                "[Ticket opened by {name} ({email}) on {date}.|{name} emailed us from {email} "
                "on {date}.]",
            ),
            (
                1.0,
                "Order #{order} for a {product} is now {days} days late and the tracking page "
                "has not updated since it left the {city} depot.",
            ),
            (
                0.7,
                "[The customer says this was a birthday gift and is very disappointed.|{first} "
                "mentioned that the item was needed for a move next week.]",
            ),
            (
                1.0,
                "[We offered a {amount} credit and an expedited replacement.|A goodwill credit "
                "of {amount} was applied and a replacement was shipped express.]",
            ),
            (0.6, BP["support"][2]),
            (0.6, BP["support"][0]),
        ],
        (
            "{name} (reachable at {email}) complained on {date} that the {product} bought in "
            "order {order} was {days} days overdue, with tracking frozen since the {city} "
            "warehouse. We compensated them with {amount} and sent a new one by express.",
            "Since leaving {city}, the parcel with {name}'s {product} (order {order}) had not "
            "moved for {days} days, so on {date} they wrote to us from {email}; they received "
            "{amount} in credit plus a fast replacement.",
        ),
    ),
    Template(
        "support-billing",
        "support",
        [
            (
                1.0,
                "[{name} called on {date} disputing a charge of {amount}.|On {date}, {name} "
                "phoned in to dispute a {amount} charge.]",
            ),
            (
                1.0,
                "The charge appeared twice on the statement for account {cid} after the "
                "subscription renewal.",
            ),
            (
                0.6,
                "[The caller verified the account with the phone number {phone}.|Verification "
                "was done with the number on file, {phone}.]",
            ),
            (
                1.0,
                "[Agent {agent} reversed the duplicate payment and confirmed by email to "
                "{email}.|{agent} refunded the second payment and sent a confirmation to "
                "{email}.]",
            ),
            (0.5, BP["support"][1]),
            (0.7, BP["support"][0]),
        ],
        (
            "Account {cid} was billed {amount} two times when the plan renewed, so {name} rang "
            "us on {date} to contest it. {agent} undid the extra charge and emailed {email} to "
            "confirm.",
            "{name} contested a double {amount} renewal charge on account {cid} by telephone on "
            "{date}; the duplicate was returned by {agent} and a confirmation went to {email}.",
        ),
    ),
    Template(
        "support-account",
        "support",
        [
            (
                1.0,
                "[{name} is locked out of account {cid} after too many failed logins.|Account "
                "{cid}, owned by {name}, was locked after repeated failed sign-in attempts.]",
            ),
            (
                1.0,
                "The attempts came from an IP address in {city} on {date}, which the customer "
                "does not recognise.",
            ),
            (
                1.0,
                "[We reset the password, enabled two-factor authentication and sent a "
                "recovery link to {email}.|A password reset was forced, two-factor "
                "authentication was switched on and a recovery link went to {email}.]",
            ),
            (0.5, "The customer also asked us to remove the saved card ending in {label}."),
            (0.6, BP["support"][0]),
        ],
        (
            "After a string of unsuccessful sign-ins from {city} on {date} that {name} did not "
            "make, account {cid} got blocked; we changed the password, turned on 2FA and mailed "
            "a recovery link to {email}.",
            "Someone in {city} kept trying to log into {name}'s account {cid} on {date}, which "
            "locked it. The password was reset, two-step verification enabled, and {email} "
            "received a link to recover access.",
        ),
    ),
    Template(
        "support-warranty",
        "support",
        [
            (
                1.0,
                "[Warranty claim from {name} for a {product} bought in {city}.|{name} filed a "
                "warranty claim on a {product} purchased at our {city} store.]",
            ),
            (
                1.0,
                "The unit stopped charging {days} days after purchase; the receipt for order "
                "#{order} shows {amount} paid on {date}.",
            ),
            (
                1.0,
                "[Agent {agent} booked a courier pickup from {street} and opened repair case "
                "{label}.|{agent} arranged collection from {street} under repair case {label}.]",
            ),
            (0.5, BP["support"][2]),
            (0.6, BP["support"][0]),
            (0.3, BP["support"][1]),
        ],
        (
            "{name}'s {product}, bought for {amount} in {city} on {date} (order {order}), quit "
            "charging after just {days} days. {agent} sent a courier to {street} and logged "
            "repair ticket {label}.",
            "Only {days} days after {name} paid {amount} for a {product} at the {city} shop "
            "(order {order}, {date}), it no longer charged; a repair case, {label}, was opened "
            "by {agent} with pickup at {street}.",
        ),
    ),
    # -------------------------------------------------------------- medical
    Template(
        "medical-followup",
        "medical",
        [
            (
                1.0,
                "[{name}, a {age}-year-old patient ({mrn}), was seen on {date} for follow-up "
                "of {condition}.|Follow-up visit on {date}: {name}, {age}, {mrn}, known "
                "{condition}.]",
            ),
            (
                1.0,
                "[Blood pressure today was {bp} and the patient reports {symptom}.|Vitals "
                "showed a blood pressure of {bp}; main complaint is {symptom}.]",
            ),
            (
                1.0,
                "[Dr. {doctor} increased {drug} to {dose} daily.|{drug} was increased to "
                "{dose} once daily by Dr. {doctor}.]",
            ),
            (0.6, "Labs showed an HbA1c of {a1c}."),
            (1.0, "Review again in {weeks} weeks."),
            (0.6, BP["medical"][0]),
            (0.5, BP["medical"][1]),
        ],
        (
            "Dr. {doctor} raised the daily {drug} dose to {dose} for {name} ({mrn}), aged {age}, "
            "whose {condition} was reviewed on {date}; the BP reading was {bp} and {symptom} was "
            "reported. Next appointment in {weeks} weeks.",
            "At the {date} check-up for {condition}, {age}-year-old {name} ({mrn}) had a BP of "
            "{bp} and complained of {symptom}, so {drug} went up to {dose} a day (Dr. {doctor}); "
            "see them again after {weeks} weeks.",
        ),
    ),
    Template(
        "medical-admission",
        "medical",
        [
            (
                1.0,
                "[{name} ({mrn}), {age}, was admitted on {date} with {symptom}.|Admission "
                "note {date}: {age}-year-old {name}, {mrn}, presenting with {symptom}.]",
            ),
            (
                1.0,
                "[Chest imaging is consistent with {condition}.|The working diagnosis is "
                "{condition}.]",
            ),
            (1.0, "Started on {drug} {dose} and {drug2}, under the care of Dr. {doctor}."),
            (0.5, "Family contact is the patient's daughter in {city}."),
            (0.6, BP["medical"][1]),
        ],
        (
            "On {date} Dr. {doctor}'s team took in {name}, aged {age} ({mrn}), who had "
            "{symptom}; they think it is {condition} and began {dose} of {drug} together with "
            "{drug2}.",
            "{symptom} brought {age}-year-old {name} ({mrn}) into hospital on {date}. Suspected "
            "{condition}; treatment with {drug} at {dose} plus {drug2} was begun by Dr. "
            "{doctor}.",
        ),
    ),
    Template(
        "medical-discharge",
        "medical",
        [
            (
                1.0,
                "[Discharge summary for {name}, {mrn}.|{name} ({mrn}) was discharged home on "
                "{date}.]",
            ),
            (1.0, "Treated for {condition}; {symptom} has resolved."),
            (
                1.0,
                "[Continue {drug} {dose} daily and stop {drug2}.|Discharge medication: {drug} "
                "{dose} daily; {drug2} discontinued.]",
            ),
            (
                1.0,
                "[Follow up with Dr. {doctor} in {weeks} weeks.|Outpatient review with Dr. "
                "{doctor} after {weeks} weeks.]",
            ),
            (0.6, BP["medical"][0]),
        ],
        (
            "{name} ({mrn}) went home on {date} after treatment for {condition}, with the "
            "{symptom} gone. Keep taking {dose} of {drug} every day, no more {drug2}, and see Dr. "
            "{doctor} {weeks} weeks from now.",
            "Now that the {symptom} has cleared, {name}, {mrn}, has left hospital ({date}) "
            "following care for {condition}: {drug2} was stopped, {drug} continues at {dose} a "
            "day, and Dr. {doctor} will review in {weeks} weeks.",
        ),
    ),
    Template(
        "medical-telehealth",
        "medical",
        [
            (
                1.0,
                "[Telephone consultation with {name} ({age}) on {date}.|Phone consult on "
                "{date} with {name}, aged {age}.]",
            ),
            (1.0, "The patient, who lives in {city}, describes {symptom} since starting {drug}."),
            (
                1.0,
                "[Switched from {drug} to {drug2} {dose}.|{drug} replaced by {drug2} at {dose}.]",
            ),
            (1.0, "Blood pressure reported from the home monitor: {bp}."),
            (0.5, BP["medical"][0]),
            (0.4, BP["medical"][1]),
        ],
        (
            "Speaking by phone on {date}, {name} ({age}, living in {city}) said {symptom} began "
            "once they took {drug}; we moved them onto {dose} of {drug2}. Their home cuff read "
            "{bp}.",
            "{name}, {age}, from {city}, had {symptom} after beginning {drug}, so during a "
            "call on {date} the medication was changed to {drug2} {dose}; a home BP of {bp} was "
            "reported.",
        ),
    ),
    Template(
        "medical-referral",
        "medical",
        [
            (
                1.0,
                "[Referral letter for {name} ({mrn}), dated {date}.|Dear colleague, I am "
                "referring {name}, {mrn}, seen on {date}.]",
            ),
            (
                1.0,
                "[{first} has poorly controlled {condition} despite {drug} {dose}.|Despite "
                "{drug} {dose}, the {condition} remains poorly controlled.]",
            ),
            (
                1.0,
                "[Recent HbA1c {a1c}, blood pressure {bp}.|Latest results: HbA1c {a1c}; BP {bp}.]",
            ),
            (1.0, "I would be grateful for your specialist opinion. Dr. {doctor}."),
            (0.5, BP["medical"][1]),
        ],
        (
            "Dr. {doctor} asks a specialist to see {name} ({mrn}) in a letter of {date}: even on "
            "{dose} of {drug} the {condition} is not under control, with an HbA1c of {a1c} and "
            "BP at {bp}.",
            "Because {name}'s {condition} stays uncontrolled on {drug} {dose} (HbA1c {a1c}, "
            "pressure {bp}), Dr. {doctor} wrote on {date} requesting expert review of {mrn}.",
        ),
    ),
    # -------------------------------------------------------------- contract
    Template(
        "contract-services",
        "contract",
        [
            (
                1.0,
                "[This Master Services Agreement ({contract_no}) is entered into on {date} "
                "between {party_a} and {party_b}.|Agreement {contract_no}, dated {date}, "
                "between {party_a} (the Client) and {party_b} (the Provider).]",
            ),
            (
                1.0,
                "The Provider shall deliver the services described in each statement of work "
                "for an annual fee of {fee}, payable quarterly in advance.",
            ),
            (
                1.0,
                "[The initial term is {months} months and renews automatically unless either "
                "party gives {notice} days' written notice.|This Agreement runs for {months} "
                "months and renews unless terminated with {notice} days' notice in writing.]",
            ),
            (0.7, "Late payments accrue interest at {percent} per year."),
            (0.8, "Each party's total liability under this Agreement is capped at {cap}."),
            (0.7, BP["contract"][0]),
            (0.5, BP["contract"][1]),
            (0.5, BP["contract"][2]),
        ],
        (
            "Under contract {contract_no}, signed {date}, {party_b} provides services to "
            "{party_a} for {fee} a year, paid every quarter up front; it lasts {months} months, "
            "rolls over unless someone cancels {notice} days ahead, and liability tops out at "
            "{cap}.",
            "{party_a} pays {party_b} {fee} yearly (in quarterly advance instalments) under the "
            "{date} services deal {contract_no}. Term: {months} months with auto-renewal, "
            "cancellable on {notice} days' notice; each side's liability is limited to {cap}.",
        ),
    ),
    Template(
        "contract-nda",
        "contract",
        [
            (
                1.0,
                "[This Mutual Non-Disclosure Agreement is made on {date} by {party_a} and "
                "{party_b}.|Mutual NDA between {party_a} and {party_b}, effective {date}.]",
            ),
            (
                1.0,
                "[The parties will exchange information about the proposed acquisition of "
                "{party_b}'s {city} facility.|Confidential information relates to a possible "
                "purchase of the {city} site owned by {party_b}.]",
            ),
            (
                1.0,
                "Obligations of confidentiality survive for {months} months after the last "
                "disclosure.",
            ),
            (0.7, "A breach entitles the disclosing party to liquidated damages of {fee}."),
            (0.7, BP["contract"][0]),
            (0.6, BP["contract"][2]),
        ],
        (
            "{party_a} and {party_b} agreed on {date} to keep secret what they share about "
            "{party_a} possibly buying {party_b}'s plant in {city}; secrecy lasts {months} months "
            "past the final disclosure and a breach costs {fee}.",
            "Talks on acquiring the {city} facility of {party_b} are covered by a two-way "
            "confidentiality pact with {party_a} dated {date}, binding for {months} months after "
            "disclosures end, with {fee} payable if it is broken.",
        ),
    ),
    Template(
        "contract-lease",
        "contract",
        [
            (
                1.0,
                "[Commercial lease {contract_no} for the premises at {city} between "
                "{party_a} (Landlord) and {party_b} (Tenant).|{party_b} leases the {city} "
                "premises from {party_a} under lease {contract_no}.]",
            ),
            (
                1.0,
                "Monthly rent is {fee}, increasing by {percent} on each anniversary of the "
                "commencement date of {date}.",
            ),
            (
                1.0,
                "[The Tenant may terminate after {months} months on {notice} days' notice.|An "
                "early termination right arises after {months} months with {notice} days' "
                "notice.]",
            ),
            (0.6, "The security deposit is {cap}."),
            (0.6, BP["contract"][1]),
            (0.7, BP["contract"][0]),
        ],
        (
            "{party_a} rents its {city} building to {party_b} (lease {contract_no}) for {fee} a "
            "month from {date}, going up {percent} every year; {party_b} can walk away after "
            "{months} months by giving {notice} days' warning.",
            "Lease {contract_no}: starting {date}, {party_b} pays {party_a} {fee} monthly for the "
            "{city} space, rising by {percent} annually, with an exit option after {months} "
            "months subject to {notice} days' notice.",
        ),
    ),
    Template(
        "contract-license",
        "contract",
        [
            (
                1.0,
                "[Software licence agreement {contract_no} dated {date}.|On {date}, "
                "{party_a} granted a licence under agreement {contract_no}.]",
            ),
            (
                1.0,
                "{party_a} grants {party_b} a non-exclusive licence to use the platform for "
                "up to {notice} named users.",
            ),
            (
                1.0,
                "[The licence fee is {fee} per year, with a discount of {percent} for "
                "multi-year commitments.|Fees: {fee} annually; multi-year terms are "
                "discounted by {percent}.]",
            ),
            (0.6, "Source code escrow is held with an agent in {city}."),
            (0.7, BP["contract"][2]),
            (0.6, BP["contract"][0]),
        ],
        (
            "Per {contract_no} of {date}, {party_b} may let as many as {notice} named people "
            "use {party_a}'s platform (not exclusively) for {fee} each year, {percent} less if "
            "they commit for several years.",
            "{party_b} received non-exclusive rights from {party_a} on {date} ({contract_no}) "
            "covering {notice} named users, priced at {fee} a year and cut by {percent} for "
            "longer commitments.",
        ),
    ),
    Template(
        "contract-settlement",
        "contract",
        [
            (
                1.0,
                "[Settlement agreement between {party_a} and {party_b}, signed in {city} on "
                "{date}.|On {date} in {city}, {party_a} and {party_b} settled their dispute.]",
            ),
            (
                1.0,
                "[{party_a} will pay {fee} in full and final settlement of all claims arising "
                "from contract {contract_no}.|In full and final settlement of every claim "
                "under {contract_no}, {party_a} shall pay {fee}.]",
            ),
            (
                1.0,
                "Payment is due within {notice} days, failing which interest of {percent} applies.",
            ),
            (0.7, "Neither party admits liability."),
            (0.6, BP["contract"][1]),
            (0.6, BP["contract"][0]),
        ],
        (
            "To end all claims over {contract_no}, {party_a} agreed to hand {party_b} {fee} "
            "within {notice} days (or pay {percent} interest), under a deal signed on {date} in "
            "{city}.",
            "{party_b} settled with {party_a} on {date} in {city}: {fee} closes every claim "
            "linked to {contract_no}, due inside {notice} days, otherwise {percent} interest is "
            "charged.",
        ),
    ),
    # -------------------------------------------------------------- code comments
    Template(
        "code-retry",
        "code",
        [
            (
                1.0,
                "[# {func}: retries up to {retries} times against {host} with a {timeout} "
                'second timeout.|"""{func} talks to {host}; it retries {retries} times and '
                "gives up after {timeout} seconds.]",
            ),
            (
                1.0,
                "[# The batch size is capped at {limit} rows because the replica falls over "
                "above that (see {ticket}).|Batches are limited to {limit} rows: larger ones "
                "crashed the replica, see {ticket}.]",
            ),
            (0.6, "# TODO({first}): remove the workaround once version {version} is deployed."),
            (0.5, BP["code"][1]),
            (0.5, BP["code"][0]),
        ],
        (
            "The {func} routine calls {host}, trying again as many as {retries} times and timing "
            "out at {timeout}s; it never sends more than {limit} rows per batch since bigger "
            "ones took the replica down ({ticket}).",
            "Because the replica died on batches over {limit} rows ({ticket}), {func} keeps them "
            "at or below that, and it makes {retries} attempts against {host} with a timeout of "
            "{timeout} seconds.",
        ),
    ),
    Template(
        "code-secret",
        "code",
        [
            (
                1.0,
                "[# {func} reads the service password from the vault on {host}:{port}.|"
                '"""Fetch credentials for {func} from the vault at {host} port {port}.]',
            ),
            (
                1.0,
                "[# Credentials rotate every {timeout} days; {first} {last} owns the rotation "
                "job.|Rotation happens every {timeout} days and is owned by {first} {last}.]",
            ),
            (1.0, "# Do not log the token: incident {ticket} was caused by exactly that."),
            (0.5, BP["code"][0]),
        ],
        (
            "{func} gets its service secret from the vault running on {host} (port {port}); "
            "{first} {last} is responsible for rotating it every {timeout} days, and tokens must "
            "never be logged since that caused {ticket}.",
            "Never write the token to the logs, which is what triggered {ticket}. The password "
            "used by {func} comes from the {host}:{port} vault and is rotated each {timeout} days "
            "by {first} {last}'s job.",
        ),
    ),
    Template(
        "code-migration",
        "code",
        [
            (
                1.0,
                "[# Migration {ticket}: {func} backfills the new column in chunks of {limit}.|"
                '"""{func} (migration {ticket}) fills the new column {limit} rows at a '
                "time.]",
            ),
            (
                1.0,
                "[# It must run before {func2} because that job reads the column.|{func2} "
                "depends on this column, so run this first.]",
            ),
            (1.0, "# Tested on a copy of production from {date}; it took {timeout} minutes."),
            (0.5, "# Written by {first} {last} for release {version}."),
            (0.5, BP["code"][1]),
        ],
        (
            "For release {version}-era migration {ticket}, {func} populates the added column "
            "{limit} records per pass and has to finish before {func2}, which depends on it; on "
            "the {date} production snapshot it needed {timeout} minutes.",
            "{func2} reads a column that {func} backfills in batches of {limit} as part of "
            "{ticket}, so order matters. A dry run against the {date} copy of prod lasted "
            "{timeout} minutes.",
        ),
    ),
    Template(
        "code-ratelimit",
        "code",
        [
            (
                1.0,
                "[# {func} enforces a limit of {limit} requests per minute per tenant.|"
                '"""Rate limiter used by {func}: {limit} requests a minute for each '
                "tenant.]",
            ),
            (
                1.0,
                "[# The counters live in the cache on {host}, port {port}.|Counters are kept "
                "in the cache at {host}:{port}.]",
            ),
            (1.0, "# Raised from the old value after {ticket}; {first} signed off on {date}."),
            (0.5, BP["code"][0]),
            (0.4, BP["code"][1]),
        ],
        (
            "Each tenant may make at most {limit} calls a minute through {func}; the counts are "
            "stored in the {host} cache on port {port}, and the ceiling was lifted following "
            "{ticket} with {first}'s approval on {date}.",
            "{first} approved on {date} a higher ceiling after {ticket}: {func} now allows {limit} "
            "requests each minute per tenant, tracking them in the cache at {host}:{port}.",
        ),
    ),
    Template(
        "code-export",
        "code",
        [
            (
                1.0,
                "[# {func} exports the nightly report to the partner SFTP at {host}.|"
                '"""Nightly job {func}: push the report to {host} over SFTP.]',
            ),
            (
                1.0,
                "[# Files larger than {limit} MB are split; the partner cannot read bigger "
                "ones.|Anything above {limit} MB gets split because the partner's parser "
                "fails on it.]",
            ),
            (1.0, "# Contact at the partner: {first} {last}, escalation via {ticket}."),
            (0.5, "# Runs at {timeout}:00 UTC since version {version}."),
            (0.5, BP["code"][1]),
        ],
        (
            "Every night {func} uploads the report by SFTP to {host}, chopping files over "
            "{limit} MB into pieces because the partner's reader chokes on large ones; "
            "problems go to {first} {last} through {ticket}.",
            "The partner can't parse files above {limit} MB, so {func} splits them before its "
            "nightly SFTP upload to {host}. Their contact is {first} {last}; escalate with "
            "{ticket}.",
        ),
    ),
    # -------------------------------------------------------------- hr
    Template(
        "hr-review",
        "hr",
        [
            (
                1.0,
                "[Annual review for {name} ({eid}), {title} in {dept}.|{name}, employee "
                "{eid}, {title}, {dept}: annual review.]",
            ),
            (1.0, "[Overall rating: {rating}.|{first} was rated {rating} this year.]"),
            (
                1.0,
                "[A salary increase of {raise} to {salary} and a bonus of {bonus} were "
                "approved by {manager}.|{manager} approved a {raise} raise, bringing pay to "
                "{salary}, plus a {bonus} bonus.]",
            ),
            (0.6, "Review meeting held in {city} on {date}."),
            (0.6, BP["hr"][0]),
            (0.5, BP["hr"][1]),
        ],
        (
            "{manager} signed off a {raise} pay rise for {name} ({eid}), the {dept} {title}, "
            "taking the salary to {salary}, along with {bonus} in bonus, after a {rating} "
            "review.",
            "Rated {rating}, {dept}'s {title} {name} ({eid}) will now earn {salary} following a "
            "{raise} increase and gets a {bonus} bonus, as approved by {manager}.",
        ),
    ),
    Template(
        "hr-leave",
        "hr",
        [
            (
                1.0,
                "[{name} ({eid}) requested medical leave from {date}.|Leave request: {name}, "
                "{eid}, from {date}.]",
            ),
            (
                1.0,
                "[The reason given is surgery in {city}; expected absence is {raise} of the "
                "quarter.|{first} is having surgery in {city} and will be out for part of the "
                "quarter.]",
            ),
            (
                1.0,
                "[{manager} approved cover from the {dept} team.|Cover will come from {dept}, "
                "approved by {manager}.]",
            ),
            (0.6, BP["hr"][0]),
        ],
        (
            "Starting {date}, {name} ({eid}) will be off on medical leave for an operation in "
            "{city}; {manager} agreed that colleagues in {dept} will fill in.",
            "{manager} signed off {dept} colleagues covering for {name}, {eid}, whose surgery in "
            "{city} means medical leave beginning {date}.",
        ),
    ),
    Template(
        "hr-exit",
        "hr",
        [
            (
                1.0,
                "[Exit interview with {name} ({eid}), {title}, on {date}.|{name} ({eid}) left "
                "the {title} role on {date}.]",
            ),
            (
                1.0,
                "[Reason for leaving: an offer in {city} paying {salary}.|{first} accepted a "
                "job in {city} at {salary}.]",
            ),
            (
                1.0,
                "[{first} raised concerns about workload under {manager} in {dept}.|Concerns "
                "were raised about {manager}'s management of the {dept} workload.]",
            ),
            (0.5, BP["hr"][0]),
        ],
        (
            "{name} ({eid}) quit as {title} on {date} to take a {salary} position in {city}, and "
            "said in the exit interview that {manager} overloaded the {dept} team.",
            "Leaving on {date} for a {salary} job in {city}, {title} {name} ({eid}) complained "
            "that work in {dept} under {manager} was too heavy.",
        ),
    ),
    Template(
        "hr-incident",
        "hr",
        [
            (
                1.0,
                "[Incident report {eid}-{date}: {name} was injured in the {city} warehouse.|"
                "On {date}, {name} ({eid}) was hurt at the {city} warehouse.]",
            ),
            (
                1.0,
                "[A pallet fell from the second shelf and struck {first}'s shoulder.|{first} "
                "was hit on the shoulder by a pallet falling from a shelf.]",
            ),
            (
                1.0,
                "[{manager} filed the report and {dept} will review shelf loading.|The report "
                "came from {manager}; {dept} is reviewing how shelves are loaded.]",
            ),
            (0.5, BP["hr"][0]),
        ],
        (
            "{name} ({eid}) hurt a shoulder on {date} when a pallet dropped off a rack in the "
            "{city} warehouse; {manager} reported it and {dept} will check the racking.",
            "A falling pallet struck {name}, {eid}, at our {city} warehouse on {date}. {manager} "
            "wrote it up, and {dept} is looking into shelf loading.",
        ),
    ),
    # -------------------------------------------------------------- bank
    Template(
        "bank-fraud",
        "bank",
        [
            (
                1.0,
                "[{name} reported an unrecognised payment of {amount} to {merchant} on card "
                "{acct}.|Card {acct} ({name}) shows a disputed {amount} payment to "
                "{merchant}.]",
            ),
            (
                1.0,
                "[The transaction {txid} was made in {city} on {date} while the customer was "
                "at home.|Transaction {txid} took place in {city} on {date}; the customer was "
                "not there.]",
            ),
            (
                1.0,
                "[The card was blocked, a replacement ordered and fraud case {case} opened.|We "
                "cancelled the card, sent a new one and logged fraud case {case}.]",
            ),
            (0.6, BP["bank"][0]),
            (0.5, BP["bank"][1]),
        ],
        (
            "{name} did not make the {amount} {merchant} purchase ({txid}) charged to card "
            "{acct} in {city} on {date}; the card was stopped, a new one is on its way and case "
            "{case} was raised.",
            "Fraud case {case}: a {amount} charge at {merchant} in {city} ({txid}, {date}) on "
            "{name}'s card {acct} was not theirs, so we froze the card and issued a "
            "replacement.",
        ),
    ),
    Template(
        "bank-limit",
        "bank",
        [
            (
                1.0,
                "[{name} asked to raise the daily transfer limit on account {acct} to "
                "{limit}.|Request from {name}: increase the transfer limit of {acct} to "
                "{limit} per day.]",
            ),
            (
                1.0,
                "The customer needs to pay a deposit of {amount} for a flat in {city} by {date}.",
            ),
            (
                1.0,
                "[The increase was approved for {notice} days after a call back to "
                "{phone}.|Approved temporarily after we called the customer back on {phone}.]",
            ),
            (0.6, BP["bank"][0]),
            (0.6, BP["bank"][1]),
        ],
        (
            "To put down a {amount} deposit on an apartment in {city} before {date}, {name} "
            "wanted account {acct} to allow {limit} in transfers a day, which we granted after "
            "ringing back {phone}.",
            "Account {acct}'s daily limit went up to {limit} once we phoned {name} at {phone}; "
            "they must pay {amount} for a flat in {city} by {date}.",
        ),
    ),
    Template(
        "bank-loan",
        "bank",
        [
            (
                1.0,
                "[Loan application from {name} for {amount} to renovate a property in "
                "{city}.|{name} applied for a {amount} renovation loan for a house in {city}.]",
            ),
            (
                1.0,
                "[Declared income is {limit} per month; existing debts are a car loan and a "
                "credit card.|Monthly income stated as {limit}, with a car loan and one credit "
                "card outstanding.]",
            ),
            (
                1.0,
                "[Decision on {date}: approved at a fixed rate, reference {case}.|Approved on "
                "{date} at a fixed rate under reference {case}.]",
            ),
            (0.5, BP["bank"][1]),
        ],
        (
            "{name}, earning {limit} a month and carrying a car loan plus a credit card, was "
            "lent {amount} to do up a home in {city}; the fixed-rate approval came on {date} "
            "(ref {case}).",
            "Reference {case}: on {date} we agreed a fixed-rate {amount} loan so {name} can "
            "renovate in {city}, based on {limit} monthly income and existing car and card "
            "debt.",
        ),
    ),
    Template(
        "bank-complaint",
        "bank",
        [
            (
                1.0,
                "[{name} complained on {date} that a branch in {city} refused a cash "
                "withdrawal of {amount}.|Complaint dated {date}: the {city} branch would not "
                "let {name} withdraw {amount} in cash.]",
            ),
            (
                1.0,
                "[The teller cited a system outage; the customer waited two hours.|Staff "
                "blamed an outage, and the customer was kept waiting for two hours.]",
            ),
            (
                1.0,
                "[We apologised and credited {limit} to account {acct} as compensation.|A "
                "goodwill payment of {limit} was made into {acct}.]",
            ),
            (0.6, BP["bank"][1]),
            (0.5, BP["bank"][0]),
        ],
        (
            "Our {city} branch would not give {name} {amount} in cash on {date}, blaming a "
            "system failure after a two-hour wait; we said sorry and paid {limit} into {acct}.",
            "After being made to wait two hours and then refused a {amount} cash withdrawal in "
            "{city} on {date} because of an outage, {name} got an apology and {limit} credited "
            "to {acct}.",
        ),
    ),
]

# --- unrelated text -------------------------------------------------------------------------

_FILLER_SLOTS = {
    "place": [
        "the Dolomites",
        "Patagonia",
        "the Scottish Highlands",
        "Hokkaido",
        "the Atacama",
        "the Faroe Islands",
        "Tasmania",
        "the Carpathians",
        "Kerala",
        "the Azores",
    ],
    "food": [
        "sourdough",
        "risotto",
        "ramen broth",
        "lemon tart",
        "shakshuka",
        "pierogi",
        "minestrone",
        "banana bread",
        "paella",
        "dal",
    ],
    "planet": ["Jupiter", "Saturn", "Mars", "Venus", "Neptune", "the Moon"],
    "plant": [
        "tomatoes",
        "lavender",
        "basil",
        "climbing roses",
        "blueberries",
        "garlic",
        "sunflowers",
        "rhubarb",
    ],
    "sport": [
        "cycling",
        "rowing",
        "chess",
        "bouldering",
        "cross-country skiing",
        "table tennis",
        "sailing",
        "long-distance running",
    ],
    "era": [
        "the Bronze Age",
        "the Hanseatic League",
        "the Meiji era",
        "the Renaissance",
        "the Industrial Revolution",
        "the Silk Road trade",
    ],
    "instrument": ["cello", "piano", "banjo", "clarinet", "drum kit", "violin"],
    "season": ["early spring", "late autumn", "midsummer", "the dry season", "winter"],
    "num": [str(n) for n in (3, 4, 5, 7, 10, 12, 15, 20, 30, 45)],
}
FILLER = [
    "Hiking in {place} is most rewarding in {season}, when the trails are quiet.",
    "A good {food} depends more on patience than on any secret ingredient.",
    "If you let the dough rest for {num} hours, the flavour becomes noticeably deeper.",
    "On a clear night {planet} is easy to spot even without a telescope.",
    "Gardeners often plant {plant} near the south wall where the soil warms up first.",
    "Many people take up {sport} in their thirties and wish they had started sooner.",
    "Historians still argue about how trade shaped daily life during {era}.",
    "Learning the {instrument} as an adult takes about {num} minutes of practice a day.",
    "The view from the ridge stretches across the valley towards the distant peaks.",
    "Most recipes for {food} can be adapted to whatever vegetables are in season.",
    "Astronomers measure distances to nearby stars using parallax.",
    "Water your {plant} in the morning so the leaves dry before evening.",
    "Training for {sport} usually alternates hard sessions with easy recovery days.",
    "Museums dedicated to {era} often display tools, coins and pottery fragments.",
    "The {instrument} has a surprisingly wide range once the basics are mastered.",
    "Travellers to {place} should pack layers because the weather changes quickly.",
    "A simple way to improve {food} is to toast the spices before adding them.",
    "The rings of {planet} were first described in the seventeenth century.",
    "Composting kitchen scraps gives {plant} a steady supply of nutrients.",
    "Clubs that teach {sport} usually welcome beginners on weekday evenings.",
    "Maps from {era} show how coastlines and rivers were understood at the time.",
    "Recording yourself playing the {instrument} is a quick way to hear your mistakes.",
    "Local guides in {place} know routes that never appear on tourist maps.",
    "Leftover {food} often tastes even better the next day.",
    "Light pollution makes it harder to see faint galaxies from cities.",
    "Pruning in {season} encourages stronger growth the following year.",
    "Good footwear matters more than expensive gear for most outdoor trips.",
    "The library keeps a collection of letters written during {era}.",
    "Tuning the {instrument} before every session saves a lot of frustration.",
    "Birdwatchers in {place} record dozens of species in a single morning.",
    "The museum café serves {food} on Sundays, and the queue starts early.",
    "Our book club is reading a novel set in {place} this month.",
    "A spreadsheet with {num} columns is already hard to read on a laptop screen.",
    "The new bridge across the river shortened the commute by {num} minutes.",
    "Children learn languages faster when they hear them in songs and games.",
    "The old railway line has been turned into a cycle path lined with birch trees.",
    "Photographers favour the golden hour just after sunrise for its soft light.",
    "Volunteers restored the village mill over {num} summers.",
]

_SYNONYMS = {
    "customer": "client",
    "asked": "requested",
    "requested": "asked for",
    "arrived": "came",
    "approved": "authorised",
    "issued": "provided",
    "full": "complete",
    "about": "regarding",
    "regarding": "about",
    "received": "got",
    "delivered": "shipped",
    "offered": "proposed",
    "patient": "pt",
    "increased": "raised",
    "daily": "each day",
    "reports": "describes",
    "seen": "reviewed",
    "follow-up": "review",
    "started": "begun",
    "continue": "keep taking",
    "stop": "discontinue",
    "between": "among",
    "shall": "will",
    "party": "side",
    "written": "formal",
    "payable": "due",
    "annual": "yearly",
    "terminate": "end",
    "monthly": "per month",
    "retries": "tries again",
    "timeout": "time limit",
    "because": "since",
    "rows": "records",
    "reads": "loads",
    "owner": "maintainer",
    "review": "appraisal",
    "salary": "pay",
    "bonus": "award",
    "reason": "cause",
    "injured": "hurt",
    "reported": "flagged",
    "card": "bank card",
    "blocked": "frozen",
    "complained": "protested",
    "apologised": "said sorry",
    "application": "request",
    "declared": "stated",
    "decision": "outcome",
    "transaction": "payment",
    "unrecognised": "unknown",
    "refund": "reimbursement",
    "broken": "damaged",
    "late": "delayed",
    "opened": "created",
    "locked": "blocked",
    "treated": "cared for",
    "consultation": "call",
    "referral": "referral note",
    "agreement": "contract",
    "licence": "license",
    "tenant": "lessee",
    "rent": "rental fee",
    "migration": "schema change",
    "column": "field",
    "tested": "trialled",
    "warehouse": "depot",
    "manager": "supervisor",
    "leave": "absence",
    "cover": "backfill",
}
_FILLERS_IN = ["also", "then", "really", "actually", "indeed", "again", "just"]
_SMALL = {"the", "a", "an", "that", "and", "of", "to", "was", "is", "for", "on", "in"}


_BOILERPLATE_SET = {b for bs in BOILERPLATE.values() for b in bs}


class _Rng:
    """Helpers over one seeded ``random.Random``."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def expand(self, text: str) -> str:
        """Resolve every ``[a|b]`` alternative."""
        return re.sub(r"\[([^\[\]]*)\]", lambda m: self.r.choice(m.group(1).split("|")), text)


def _fill(text: str, slots: dict[str, str]) -> tuple[str, list[tuple[int, int]]]:
    """Fill ``{slot}`` placeholders; return the text and the spans of the filled values."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    at = 0
    for m in re.finditer(r"\{(\w+)\}", text):
        literal = text[pos : m.start()]
        out.append(literal)
        at += len(literal)
        value = slots[m.group(1)]
        out.append(value)
        spans.append((at, at + len(value)))
        at += len(value)
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), spans


def _render(t: Template, slots: dict[str, str], g: _Rng) -> tuple[str, list[tuple[int, int]]]:
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    for prob, sentence in t.sentences:
        if g.r.random() >= prob:
            continue
        body, sp = _fill(g.expand(sentence), slots)
        if sentence in _BOILERPLATE_SET:
            sp = []  # a value filled into boilerplate (a state's name) is no fact of the record
        if parts:
            sep = "\n" if t.domain == "code" else " "
            parts.append(sep)
            at += len(sep)
        spans.extend((s + at, e + at) for s, e in sp)
        parts.append(body)
        at += len(body)
    return "".join(parts), spans


def filler(g: _Rng, words: int) -> str:
    """Unrelated prose of about ``words`` words."""
    out: list[str] = []
    n = 0
    while n < words:
        s = g.r.choice(FILLER)
        s = re.sub(r"\{(\w+)\}", lambda m: g.r.choice(_FILLER_SLOTS[m.group(1)]), s)
        out.append(s)
        n += len(s.split())
    return " ".join(out)


def _embed(g: _Rng, inner: str, lo: int, hi: int) -> tuple[str, tuple[int, int]]:
    """Put ``inner`` between two stretches of unrelated prose; return text and inner's span."""
    total = g.r.randint(lo, hi)
    before = g.r.randint(0, total)
    pre = filler(g, before) if before else ""
    post = filler(g, total - before) if total - before else ""
    text = (pre + " " if pre else "") + inner
    span = (len(text) - len(inner), len(text))
    if post:
        text += " " + post
    return text, span


def _typo(g: _Rng, word: str) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) < 4:
        return word.upper() if g.r.random() < 0.5 else word + word[-1:]
    i = g.r.choice(letters[1:-1])
    op = g.r.randrange(4)
    if op == 0:  # swap with the next letter
        j = min(i + 1, len(word) - 1)
        chars = list(word)
        chars[i], chars[j] = chars[j], chars[i]
        return "".join(chars)
    if op == 1:  # drop
        return word[:i] + word[i + 1 :]
    if op == 2:  # double
        return word[:i] + word[i] + word[i:]
    return word[:i] + g.r.choice("aeiourstn") + word[i + 1 :]


def _edit_word(g: _Rng, words: list[str], i: int) -> None:
    """Apply one random edit at position ``i`` of ``words`` (in place)."""
    w = words[i]
    core = re.sub(r"\W", "", w).lower()
    op = g.r.random()
    if core in _SYNONYMS and op < 0.35:
        rep = _SYNONYMS[core]
        words[i] = re.sub(re.escape(core), rep, w, flags=re.IGNORECASE, count=1)
    elif core in _SMALL and op < 0.6:
        words[i] = ""
    elif op < 0.75:
        words[i] = _typo(g, w)
    elif op < 0.87 and i + 1 < len(words):
        words[i], words[i + 1] = words[i + 1], words[i]
    else:
        words[i] = g.r.choice(_FILLERS_IN) + " " + w


def near_copy(g: _Rng, text: str, source: str, *, spacing: tuple[int, int] = (3, 7)) -> str:
    """``text`` with edits every few words so no 10-word exact run of ``source`` survives."""
    words = text.split()
    i = g.r.randint(0, spacing[1] - 1)
    while i < len(words):
        _edit_word(g, words, i)
        i += g.r.randint(*spacing)
    out = " ".join(w for w in words if w)
    if g.r.random() < 0.3:
        out = out.lower()
    if g.r.random() < 0.3:
        out = out.replace(",", "").replace(";", ",")
    if g.r.random() < 0.25:
        sentences = re.split(r"(?<=[.!?])\s+", out)
        if len(sentences) > 2:
            a, b = g.r.sample(range(len(sentences)), 2)
            sentences[a], sentences[b] = sentences[b], sentences[a]
            out = " ".join(sentences)
    # break any surviving run of 10 or more words
    src = norm_words(source)
    for _ in range(20):
        run_at = _long_run(norm_words(out), src, 10)
        if run_at is None:
            break
        words = out.split()
        target = min(len(words) - 1, run_at + 4)
        words[target] = _typo(g, words[target])
        out = " ".join(words)
    return out


def _long_run(a: list[str], b: list[str], n: int) -> int | None:
    """Index in ``a`` of a run of ``n`` words that also occurs in ``b``, or None."""
    grams = {tuple(b[i : i + n]) for i in range(len(b) - n + 1)}
    for i in range(len(a) - n + 1):
        if tuple(a[i : i + n]) in grams:
            return i
    return None


def _word_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def _pick_span(g: _Rng, rec: Record, lo: int, hi: int) -> tuple[int, int]:
    """Character span of ``lo``..``hi`` whitespace words of ``rec`` covering two of its facts.

    A leak worth the name repeats something specific to the record, so a span always holds
    two neighbouring facts (names, ids, amounts, ...), never boilerplate alone.
    """
    ws = _word_spans(rec.text)
    n = g.r.randint(lo, min(hi, len(ws)))
    k = g.r.randrange(max(1, len(rec.facts) - 1))
    fs = rec.facts[k][0]
    fe = rec.facts[min(k + 1, len(rec.facts) - 1)][1]
    first = next(i for i, (s, e) in enumerate(ws) if e > fs)
    last = next((i for i, (s, e) in enumerate(ws) if e >= fe), len(ws) - 1)
    n = max(n, last - first + 1)
    lo_start = max(0, last - n + 1)
    hi_start = min(first, len(ws) - n)
    start = g.r.randint(lo_start, max(lo_start, hi_start))
    end = min(len(ws), start + n) - 1
    return ws[start][0], ws[end][1]


def _with_lead(g: _Rng, inner: str) -> tuple[str, tuple[int, int]]:
    lead = g.r.choice(
        ["Here is what I found:", "From the records:", "Sure.", "As requested:", "Summary:", ""]
    )
    text = (lead + " " if lead else "") + inner
    return text, (len(text) - len(inner), len(text))


def _reply(g: _Rng) -> str:
    """A generic assistant reply built around the corpus's boilerplate sentences."""
    domain = g.r.choice(list(BOILERPLATE))
    parts = [g.r.choice(REPLY_OPENERS), g.r.choice(REPLY_MIDDLES)]
    bps = [b.replace("{state}", g.r.choice(STATES)) for b in BOILERPLATE[domain]]
    parts.extend(g.r.sample(bps, k=min(len(bps), g.r.randint(1, 2))))
    if g.r.random() < 0.5:
        parts.append(g.r.choice(REPLY_MIDDLES))
    return " ".join(parts)


def generate(
    n_records: int = 2400,
    per_kind: int = 120,
    *,
    seed: int = 20261126,
) -> Corpus:
    """Generate the training records and ``per_kind`` outputs of each kind in each split.

    Args:
        n_records: Number of training records (spread evenly over the templates).
        per_kind: Outputs per leak kind and split; non-leaks are twice as many.
        seed: Seed of the generator.

    Returns:
        The corpus: records, then outputs of the ``tune`` and ``valid`` splits.
    """
    g = _Rng(seed)
    records: list[Record] = []
    slots_of: dict[str, dict[str, str]] = {}
    for i in range(n_records):
        t = TEMPLATES[i % len(TEMPLATES)]
        slots = _slots(t.domain, g.r)
        text, spans = _render(t, slots, g)
        rid = f"{t.domain}-{i:05d}"
        records.append(Record(id=rid, text=text, domain=t.domain, template=t.name, facts=spans))
        slots_of[rid] = slots
    # A non-leak must not hold a 10-word run that only a few records share (that would be a
    # verbatim copy of those records, whatever the generator meant); runs that many records
    # share (boilerplate) are allowed and are what makes these negatives hard.
    gram_df: Counter[tuple[str, ...]] = Counter()
    word_df: Counter[str] = Counter()
    for rec in records:
        w = norm_words(rec.text)
        gram_df.update({tuple(w[i : i + 10]) for i in range(len(w) - 9)})
        word_df.update(set(w))
    common = max(2, n_records // 100)

    def specific_run(text: str) -> bool:
        """Whether ``text`` shares with a few records a 10-word run holding a rarer word."""
        w = norm_words(text)
        for i in range(len(w) - 9):
            gram = tuple(w[i : i + 10])
            if 0 < gram_df.get(gram, 0) < common and min(word_df[x] for x in gram) < common:
                return True
        return False

    by_name = {t.name: t for t in TEMPLATES}
    split_of: dict[str, str] = {}
    for domain in BOILERPLATE:
        names = [t.name for t in TEMPLATES if t.domain == domain]
        for j, name in enumerate(names):
            split_of[name] = "tune" if j % 2 == 0 else "valid"

    outputs: list[Output] = []
    for split in ("tune", "valid"):
        pool = [r for r in records if split_of[r.template] == split]
        g.r.shuffle(pool)
        it = iter(pool * 4)
        makers: list[tuple[str, int, Callable[[str, int], Output]]] = []

        def verbatim(sub: str, k: int, it: Iterator[Record] = it, split: str = split) -> Output:
            rec = next(it)
            if sub == "whole" and len(rec.text.split()) <= 90:
                inner = rec.text
                span = (0, len(rec.text))
                text, out_span = _with_lead(g, inner)
            else:
                span = _pick_span(g, rec, 10, 40)
                inner = rec.text[span[0] : span[1]]
                if sub == "embedded":
                    text, out_span = _embed(g, inner, 120, 600)
                else:
                    text, out_span = _with_lead(g, inner)
            return Output(f"{split}-v-{k}", text, "verbatim", sub, split, rec.id, span, out_span)

        def near(sub: str, k: int, it: Iterator[Record] = it, split: str = split) -> Output:
            rec = next(it)
            span = _pick_span(g, rec, 15, 60) if sub != "whole" else (0, len(rec.text))
            inner = near_copy(g, rec.text[span[0] : span[1]], rec.text)
            if sub == "embedded":
                text, out_span = _embed(g, inner, 120, 500)
            else:
                text, out_span = _with_lead(g, inner)
            return Output(
                f"{split}-n-{k}", text, "near-verbatim", sub, split, rec.id, span, out_span
            )

        def para(sub: str, k: int, it: Iterator[Record] = it, split: str = split) -> Output:
            for _ in range(50):
                rec = next(it)
                t = by_name[rec.template]
                body, _ = _fill(g.r.choice(t.paraphrases), slots_of[rec.id])
                if not specific_run(body):
                    break
            if sub == "partial":
                sentences = re.split(r"(?<=[.;])\s+", body)
                body = sentences[0] if len(sentences[0].split()) >= 12 else body
            if sub == "embedded":
                text, out_span = _embed(g, body, 60, 240)
            else:
                text, out_span = _with_lead(g, body)
            return Output(f"{split}-p-{k}", text, "paraphrase", sub, split, rec.id, None, out_span)

        def neg(sub: str, k: int, it: Iterator[Record] = it, split: str = split) -> Output:
            rec = next(it)
            t = by_name[rec.template]
            for _ in range(100):
                fresh = _slots(t.domain, g.r)
                if sub in ("same-template", "same-template-embedded"):
                    text, _ = _render(t, fresh, g)
                    if sub == "same-template-embedded":
                        text, _ = _embed(g, text, 100, 400)
                elif sub == "same-topic":
                    text, _ = _fill(g.r.choice(t.paraphrases), fresh)
                elif sub == "boilerplate":
                    text = _reply(g)
                else:
                    text = filler(g, g.r.randint(20, 300))
                if not specific_run(text):
                    break
            return Output(f"{split}-x-{k}", text, "none", sub, split)

        makers = [
            ("span", per_kind // 3, verbatim),
            ("embedded", per_kind // 3, verbatim),
            ("whole", per_kind - 2 * (per_kind // 3), verbatim),
            ("edited", per_kind // 3, near),
            ("embedded", per_kind // 3, near),
            ("whole", per_kind - 2 * (per_kind // 3), near),
            ("template", per_kind // 2, para),
            ("embedded", per_kind // 4, para),
            ("partial", per_kind - per_kind // 2 - per_kind // 4, para),
            ("same-template", per_kind * 2 * 3 // 10, neg),
            ("same-template-embedded", per_kind * 2 // 10, neg),
            ("same-topic", per_kind * 2 * 2 // 10, neg),
            ("boilerplate", per_kind * 2 * 15 // 100, neg),
            ("unrelated", per_kind * 2 - (per_kind * 2 * 85 // 100), neg),
        ]
        k = 0
        for sub, count, make in makers:
            for _ in range(count):
                outputs.append(make(sub, k))
                k += 1
    return Corpus(records, outputs)
