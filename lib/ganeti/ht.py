"""Type checks for declared parameters: each check is a callable returning bool,
with a readable ``desc`` used in error messages."""

import math
import re


class TypeCheck:
    def __init__(self, desc, fn):
        self.desc = desc
        self.fn = fn

    def __call__(self, value):
        try:
            return bool(self.fn(value))
        except (TypeError, ValueError):
            return False

    def __repr__(self):
        return self.desc


def _mk(desc):
    def deco(fn):
        return TypeCheck(desc, fn)
    return deco


TAny = TypeCheck("anything", lambda v: True)
TNone = TypeCheck("None", lambda v: v is None)
TBool = TypeCheck("boolean", lambda v: isinstance(v, bool))
TInt = TypeCheck("integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
# a finite number: NaN or Infinity as a duration or size is never meant
TNumber = TypeCheck("number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                    and (isinstance(v, int) or math.isfinite(v)))
TString = TypeCheck("string", lambda v: isinstance(v, str))
TNonEmptyString = TypeCheck("non-empty string", lambda v: isinstance(v, str) and v != "")
TNonNegativeInt = TypeCheck("non-negative integer", lambda v: TInt(v) and v >= 0)
TPositiveInt = TypeCheck("positive integer", lambda v: TInt(v) and v > 0)
TNonNegativeNumber = TypeCheck("non-negative number", lambda v: TNumber(v) and v >= 0)
TList = TypeCheck("list", lambda v: isinstance(v, list))
TDict = TypeCheck("dictionary", lambda v: isinstance(v, dict))


def TMaybe(check):
    return TypeCheck("None or %s" % check.desc, lambda v: v is None or check(v))


def TOr(*checks):
    return TypeCheck(" or ".join(c.desc for c in checks), lambda v: any(c(v) for c in checks))


def TElemOf(items):
    items = frozenset(items)
    return TypeCheck("one of %s" % ", ".join(sorted(map(str, items))), lambda v: v in items)


def TListOf(check):
    return TypeCheck("list of %s" % check.desc,
                     lambda v: isinstance(v, list) and all(check(i) for i in v))


def TDictOf(key_check, val_check):
    return TypeCheck("dictionary of %s to %s" % (key_check.desc, val_check.desc),
                     lambda v: isinstance(v, dict) and all(
                         key_check(k) and val_check(x) for k, x in v.items()))


def TRegex(pattern, desc):
    rx = re.compile(pattern)
    return TypeCheck(desc, lambda v: isinstance(v, str) and rx.match(v) is not None)


def TRange(low, high):
    return TypeCheck("number in [%s, %s]" % (low, high),
                     lambda v: TNumber(v) and low <= v <= high)


TMaybeString = TMaybe(TString)
TMaybeBool = TMaybe(TBool)
TMaybeDict = TMaybe(TDict)
TStrList = TListOf(TString)
TMaybeStrList = TMaybe(TStrList)
