"""One-shot job: seed the data store once. The app starts only after it exits 0."""

from resp import command

if command("SETNX", "schema:version", "1") == 1:
    command("SET", "visits", "0")
    print("migrate: seeded schema version 1")
else:
    print("migrate: schema already at version", command("GET", "schema:version"))
