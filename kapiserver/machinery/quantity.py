"""Parsing resource.Quantity strings to exact numbers, for comparisons only."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Optional

_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"n": Fraction(1, 10 ** 9), "u": Fraction(1, 10 ** 6), "m": Fraction(1, 1000), "": 1,
            "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18}


def parse_quantity(value: Any) -> Optional[Fraction]:
    """The exact value of a quantity (a string such as "100m", "1Gi", "2e3", or a number);
    None when it does not parse."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Fraction(value)
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if not match:
        return None
    number, suffix = Fraction(match.group(1)), match.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    return number * Fraction(10) ** int(suffix[1:])


_DECIMAL_SUFFIX = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIX = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}


def _round_away(amount: Fraction, unit: Fraction) -> Fraction:
    """Round to a multiple of ``unit`` away from zero (inf.RoundUp)."""
    steps = amount / unit
    if steps.denominator == 1:
        return amount
    whole = -(-abs(steps.numerator) // steps.denominator)
    return Fraction(whole if amount > 0 else -whole) * unit


def canonical_quantity(value: Any, milli: bool = False) -> Any:
    """The string upstream writes back for a Quantity: parsed, rounded up to nano (to milli
    for resource lists, as SetDefaults_ResourceList does) and printed in canonical form,
    e.g. "0.5" -> "500m", "1000m" -> "1", "1000" -> "1k", "1024Mi" -> "1Gi".
    A value that does not parse is returned unchanged (decoding reports it)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return value
    text = value.strip() if isinstance(value, str) else repr(value)
    match = _QUANTITY.match(text)
    if not match:
        return value
    suffix = match.group(2) or ""
    amount = parse_quantity(text)
    if amount is None:
        return value
    amount = _round_away(amount, Fraction(1, 10 ** 9))
    if milli:
        amount = _round_away(amount, Fraction(1, 1000))
    return format_quantity(amount, suffix in _BINARY, suffix[:1] in ("e", "E"))


def format_quantity(amount: Fraction, binary: bool = False, exponent_format: bool = False) -> str:
    """Quantity.String() of ``amount`` (already rounded to nano) in the format its quantities had: BinarySI
    (Ki, Mi, ... where a whole number of them), DecimalSI, or DecimalExponent."""
    if amount == 0:
        return "0"
    if binary and not (-1024 < amount < 1024) and amount.denominator == 1:
        mantissa, power = int(amount), 0
        while mantissa % 1024 == 0 and power < 6:
            mantissa //= 1024
            power += 1
        return f"{mantissa}{_BINARY_SUFFIX[power]}"
    # mantissa * 10**exponent with the mantissa an integer free of trailing zeros
    exponent = 0
    while amount.denominator != 1:
        amount *= 10
        exponent -= 1
    mantissa = int(amount)
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3
    mantissa *= 10 ** shift
    exponent -= shift
    if exponent_format:
        return f"{mantissa}" + (f"e{exponent}" if exponent else "")
    if exponent in _DECIMAL_SUFFIX:
        return f"{mantissa}{_DECIMAL_SUFFIX[exponent]}"
    return f"{mantissa}e{exponent}"


def canonical_resource_list(obj: Any, key: str) -> None:
    """Canonicalise the quantities of the ResourceList at ``obj[key]`` in place."""
    if isinstance(obj, dict) and isinstance(obj.get(key), dict):
        resources = obj[key]
        for name, quantity in list(resources.items()):
            resources[name] = canonical_quantity(quantity, milli=True)


# -- quantities as field.ErrorBody prints them ----------------------------------------------------

_GO_SUFFIX = re.compile(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
_GO_EXPONENT = {suffix: exponent for exponent, suffix in _DECIMAL_SUFFIX.items()}


def go_quantity(value: Any) -> str:
    """%#v of a resource.Quantity (a dereferenced *Quantity has no String method in Go's eyes), for the
    values ParseQuantity keeps as an int64 amount; others are shown by their text."""
    raw = value.strip() if isinstance(value, str) else str(value)
    match = _GO_SUFFIX.match(raw)
    if not match or not (match.group(2) or match.group(3)):
        return f'"{raw}"'
    sign, num, denom, suffix = match.group(1), match.group(2) or "", match.group(3) or "", match.group(4) or ""
    if suffix in _BINARY:
        fmt, scale, mantissa = "BinarySI", 0, _BINARY[suffix]
    elif suffix in _GO_EXPONENT:
        fmt, scale, mantissa = "DecimalSI", _GO_EXPONENT[suffix], 1
    else:
        fmt, scale, mantissa = "DecimalExponent", int(suffix[1:]), 1
    scale -= len(denom)
    shifted = (num + denom).lstrip("0") or "0"
    amount = int(shifted) * mantissa
    if scale < -9 or amount >= 1 << 63:
        return f'"{raw}"'
    cached = ""
    digits = num + denom
    if fmt == "BinarySI":
        if suffix and int(digits or "0") & 7:
            cached = raw
    elif scale % 3 == 0 and not digits.endswith("000") and digits[:1] != "0":
        cached = raw
    if sign == "-":
        amount = -amount
    return (f"resource.Quantity{{i:resource.int64Amount{{value:{amount}, scale:{scale}}}, "
            f"d:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:\"{cached}\", Format:\"{fmt}\"}}")
