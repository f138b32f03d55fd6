"""A small KQL (Kibana Query Language) parser for checking shipped saved objects offline.

Kibana rejects a saved search whose query does not parse only when an analyst opens it,
so the tests parse every query here first. The grammar follows Kibana's kuery grammar
closely enough for what we ship: ``field:value``, ``field:(a or b)``, ``field:*``,
``and``/``or``/``not`` with the usual precedence, parentheses, ranges (``field >= x``),
wildcards, quoted phrases and nested queries (``entities:{ label:ORG }``).

The parser returns the field names it saw, so the tests can check them against the
Elasticsearch mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<range><=|>=|<|>)
  | (?P<colon>:)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<lbrace>\{)
  | (?P<rbrace>\})
  | (?P<word>(?:[^\s"():<>{}\\]|\\.)+)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not"}


class KqlSyntaxError(ValueError):
    """The query would be refused by Kibana's KQL parser."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None:
            raise KqlSyntaxError(f"unexpected character {query[pos]!r} at {pos}")
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "ws":
            if kind == "word" and text.lower() in _KEYWORDS:
                kind = text.lower()
            tokens.append(Token(kind, text, pos))
        pos = match.end()
    return tokens


@dataclass
class _Parser:
    tokens: list[Token]
    pos: int = 0
    fields: set[str] = field(default_factory=set)
    nest: list[str] = field(default_factory=list)

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, *kinds: str) -> Token:
        token = self.peek()
        if token is None or token.kind not in kinds:
            found = "end of query" if token is None else repr(token.text)
            raise KqlSyntaxError(f"expected {' or '.join(kinds)}, found {found}")
        self.pos += 1
        return token

    def at(self, *kinds: str) -> bool:
        token = self.peek()
        return token is not None and token.kind in kinds

    # query := or_query
    def or_query(self, in_value: bool = False) -> None:
        self.and_query(in_value)
        while self.at("or"):
            self.take("or")
            self.and_query(in_value)

    def and_query(self, in_value: bool) -> None:
        self.not_query(in_value)
        while self.at("and"):
            self.take("and")
            self.not_query(in_value)

    def not_query(self, in_value: bool) -> None:
        if self.at("not"):
            self.take("not")
        if in_value:
            self.value_term()
        else:
            self.sub_query()

    def sub_query(self) -> None:
        if self.at("lparen"):
            self.take("lparen")
            self.or_query()
            self.take("rparen")
            return
        self.expression()

    def value_term(self) -> None:
        if self.at("lparen"):
            self.take("lparen")
            self.or_query(in_value=True)
            self.take("rparen")
            return
        self.take("word", "string")

    def record(self, name: str) -> None:
        if name.startswith('"'):
            name = name[1:-1]
        self.fields.add(".".join([*self.nest, name]))

    def expression(self) -> None:
        first = self.peek()
        second = self.peek(1)
        if first is not None and first.kind == "word" and second is not None:
            if second.kind == "range":
                self.pos += 2
                self.record(first.text)
                self.take("word", "string")
                return
            if second.kind == "colon":
                self.pos += 2
                if self.at("lbrace"):
                    self.take("lbrace")
                    self.nest.append(first.text)
                    self.or_query()
                    self.nest.pop()
                    self.take("rbrace")
                else:
                    self.value_term()
                self.record(first.text)
                return
        # A bare value searches the default fields.
        self.take("word", "string")


def parse_kql(query: str) -> set[str]:
    """Parse ``query`` and return the field names it names; raise KqlSyntaxError if invalid.

    The empty query is valid (it matches everything), as in Kibana.
    """
    parser = _Parser(tokenize(query))
    if not parser.tokens:
        return set()
    parser.or_query()
    if parser.peek() is not None:
        token = parser.peek()
        assert token is not None
        raise KqlSyntaxError(f"unexpected {token.text!r} at {token.pos}")
    return parser.fields
