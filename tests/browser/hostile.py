"""Hostile values for the plain-text tests: Markdown images and links, HTML, autolinks,
Streamlit's colour and icon directives, maths, headings and lists."""
HOSTILE = [
    "![x](http://127.0.0.1:9/x.png)",
    "[click](http://evil.example)",
    "<img src=x onerror=alert(1)>",
    "<a href=\"http://evil.example\">here</a> <b>bold</b>",
    "http://evil.example/login www.evil.example mail@evil.example",
    ":red[alarm] :material/warning: :smile: $x^2$",
    "# Heading\n- item\n1. first\n> quote\n`code` **strong** _em_ ~~del~~",
    "back\\slash \\[not\\] a & b &amp; c | d",
    "Title\n===\nSub\n---\n2) second\n    indented\n***",
    "| a | b |\n|---|---|\n| c | d |",
    "<http://evil.example> [ref]\n\n[ref]: http://evil.example",
]
