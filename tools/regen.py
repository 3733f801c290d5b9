"""Regenerate the role matrix (README, docs/ACCESS.md) and the settings table (README)."""
import re
from dashboard.access import role_matrix_markdown
from dashboard.settings import settings_table_markdown

def replace_table(text, header_start, new):
    lines = text.split("\n")
    out, i, done = [], 0, False
    while i < len(lines):
        if not done and lines[i].startswith(header_start):
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            tail = [l for l in new.rstrip("\n").split("\n") if not l.startswith("|")]
            # the rendered block's lines after the table, if the file already has them
            j = i
            for l in tail:
                if j < len(lines) and lines[j] == l:
                    j += 1
                elif l.strip() and j < len(lines) and lines[j].startswith(l.split(":")[0][:20]):
                    j += 1
                else:
                    break
            i = j
            out.extend(new.rstrip("\n").split("\n"))
            done = True
            continue
        out.append(lines[i]); i += 1
    return "\n".join(out), done

for path in ("README.md", "docs/ACCESS.md"):
    t = open(path).read()
    t, ok = replace_table(t, "| Action |", role_matrix_markdown())
    if path == "README.md":
        t, ok2 = replace_table(t, "| setting | default |", settings_table_markdown())
        print(path, ok, ok2)
    else:
        print(path, ok)
    open(path, "w").write(t)
