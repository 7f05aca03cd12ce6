"""The type terms of fact values (bool, integer, number, percent, date, country, string, enum, set of)."""

from __future__ import annotations

import enum

from .records import record


class Kind(enum.Enum):
    """The kinds of fact type."""

    BOOL = "bool"
    INTEGER = "integer"
    NUMBER = "number"
    PERCENT = "percent"
    DATE = "date"
    COUNTRY = "country"
    STRING = "string"
    ENUM = "enum"
    SET = "set"


#: Scalar kinds that a policy names with a bare word (``fact x: percent``).
SCALAR_KINDS = {k.value: k for k in Kind if k not in (Kind.ENUM, Kind.SET)}

#: Kinds whose values are ordered, so that ``< <= > >=`` apply.
ORDERED_KINDS = frozenset({Kind.INTEGER, Kind.NUMBER, Kind.PERCENT, Kind.DATE})

#: Kinds whose values are decimal numbers.
NUMERIC_KINDS = frozenset({Kind.INTEGER, Kind.NUMBER, Kind.PERCENT})


@record
class FactType:
    """A fact's type: a kind, the listed values of an enum, the element type of a set."""

    kind: Kind
    values: tuple[str, ...] = ()
    element: "FactType | None" = None

    def __str__(self) -> str:
        if self.kind is Kind.ENUM:
            return "enum {" + ", ".join(self.values) + "}"
        if self.kind is Kind.SET:
            return f"set of {self.element}"
        return self.kind.value

    @property
    def is_set(self) -> bool:
        """True for ``set of ...`` types."""
        return self.kind is Kind.SET

    @property
    def is_ordered(self) -> bool:
        """True when ``< <= > >=`` apply to values of this type."""
        return self.kind in ORDERED_KINDS

    def describe(self) -> str:
        """A short human name of the type for messages (enums are not spelled out)."""
        if self.kind is Kind.ENUM:
            return "enum"
        if self.kind is Kind.SET:
            return f"set of {self.element.describe()}"
        return self.kind.value


BOOL = FactType(Kind.BOOL)
INTEGER = FactType(Kind.INTEGER)
NUMBER = FactType(Kind.NUMBER)
PERCENT = FactType(Kind.PERCENT)
DATE = FactType(Kind.DATE)
COUNTRY = FactType(Kind.COUNTRY)
STRING = FactType(Kind.STRING)


def enum_of(values) -> FactType:
    """An enum type of the given values, in the order given."""
    return FactType(Kind.ENUM, tuple(values))


def set_of(element: FactType) -> FactType:
    """A set type over an element type (enum, string or country)."""
    return FactType(Kind.SET, element=element)


#: ISO 3166-1 alpha-2 codes (officially assigned), plus XK (Kosovo, user-assigned but in common use).
COUNTRY_CODES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK
    """.split()
)

#: Common country names and non-ISO codes people write instead of the ISO 3166-1 alpha-2 code,
#: upper-cased with spaces and dots dropped (for the help line of an unknown country code; never
#: accepted as values).
COUNTRY_ALIASES = {
    "UK": "GB", "EL": "GR", "EN": "GB", "ENGLAND": "GB", "BRITAIN": "GB", "GREATBRITAIN": "GB",
    "UNITEDKINGDOM": "GB", "SCOTLAND": "GB", "WALES": "GB", "USA": "US", "AMERICA": "US",
    "UNITEDSTATES": "US", "CHINA": "CN", "PRC": "CN", "HONGKONG": "HK", "MACAU": "MO", "MACAO": "MO",
    "TAIWAN": "TW", "GERMANY": "DE", "DEUTSCHLAND": "DE", "GER": "DE", "FRANCE": "FR", "ITALY": "IT",
    "SPAIN": "ES", "NETHERLANDS": "NL", "HOLLAND": "NL", "BELGIUM": "BE", "SWITZERLAND": "CH",
    "AUSTRIA": "AT", "SWEDEN": "SE", "NORWAY": "NO", "DENMARK": "DK", "FINLAND": "FI", "POLAND": "PL",
    "GREECE": "GR", "PORTUGAL": "PT", "IRELAND": "IE", "RUSSIA": "RU", "UKRAINE": "UA", "BELARUS": "BY",
    "TURKEY": "TR", "TURKIYE": "TR", "IRAN": "IR", "IRAQ": "IQ", "SYRIA": "SY", "ISRAEL": "IL",
    "SAUDIARABIA": "SA", "UAE": "AE", "JAPAN": "JP", "KOREA": "KR", "SOUTHKOREA": "KR",
    "NORTHKOREA": "KP", "DPRK": "KP", "INDIA": "IN", "PAKISTAN": "PK", "VIETNAM": "VN",
    "SINGAPORE": "SG", "MALAYSIA": "MY", "INDONESIA": "ID", "THAILAND": "TH", "PHILIPPINES": "PH",
    "AUSTRALIA": "AU", "NEWZEALAND": "NZ", "CANADA": "CA", "MEXICO": "MX", "BRAZIL": "BR",
    "ARGENTINA": "AR", "CHILE": "CL", "CUBA": "CU", "VENEZUELA": "VE", "SOUTHAFRICA": "ZA",
    "EGYPT": "EG", "NIGERIA": "NG", "MYANMAR": "MM", "BURMA": "MM", "KOSOVO": "XK",
}


def country_suggestion(text: str) -> str | None:
    """The ISO code for a common country name or alias (``China`` -> ``CN``, ``UK`` -> ``GB``), or None."""
    key = "".join(ch for ch in text.upper() if ch.isalpha())
    return COUNTRY_ALIASES.get(key)
