"""The compiler: Clara config -> IR -> passes -> generated scripts."""
