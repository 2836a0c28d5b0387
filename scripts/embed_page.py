#!/usr/bin/env python3
"""Turns an HTML file into a C++ source defining it as a raw string literal.

  embed_page.py INPUT.html OUTPUT.cpp SYMBOL

The page stays one file a person edits (tools/server/room.html, gst/whip/publish.html); the build
embeds it so rtcmesh-server serves it without reading files at run time.
"""
import sys

DELIM = 'rtcmesh_page'


def main():
    src, out, symbol = sys.argv[1:4]
    with open(src, encoding='utf-8') as f:
        text = f.read()
    if ')' + DELIM + '"' in text:
        sys.exit(f'{src} contains the raw-string terminator ){DELIM}"')
    # g++ takes raw strings of any length; split into chunks anyway so other
    # compilers' per-literal limits (MSVC: 16 KiB) never bite.
    chunks = [text[i:i + 8000] for i in range(0, len(text), 8000)] or ['']
    body = '\n'.join(f'R"{DELIM}({c}){DELIM}"' for c in chunks)
    with open(out, 'w', encoding='utf-8') as f:
        f.write(f'// Generated from {src.split("/")[-1]} by embed_page.py. Do not edit.\n'
                f'extern const char {symbol}[];\n'
                f'const char {symbol}[] =\n{body};\n')


if __name__ == '__main__':
    main()
