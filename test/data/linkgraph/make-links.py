# Regenerates links.db (see README.md). Run: python3 make-links.py
import os, sqlite3
if os.path.exists('links.db'):
    os.remove('links.db')
c = sqlite3.connect('links.db')
c.execute('PRAGMA page_size=512')
c.execute('PRAGMA journal_mode=DELETE')
c.execute('''CREATE TABLE entity (
        id text NOT NULL PRIMARY KEY
    )''')
c.execute('''CREATE TABLE edge (
        "entity_id" text NOT NULL,
        "parent_id" text NULL,
        "name" text NOT NULL,
        CONSTRAINT "parent_fk" FOREIGN KEY ("parent_id") REFERENCES "entity" ("id"),
        CONSTRAINT "entity_fk" FOREIGN KEY ("entity_id") REFERENCES "entity" ("id")
        )''')
c.execute('CREATE UNIQUE INDEX "name_parent_ix" ON "edge" (parent_id, name)')
c.execute("INSERT INTO entity (id) VALUES ('0')")
c.execute("INSERT INTO edge (entity_id, name) VALUES ('0', '/')")
def cont(cid, name):
    c.execute('INSERT INTO entity (id) VALUES (?)', (cid,))
    c.execute("INSERT INTO edge (entity_id, parent_id, name) VALUES (?, '0', ?)", (cid, name))
web, db, cache = 'a' * 64, 'b' * 64, 'c' * 64
cont(web, 'web'); cont(db, 'db'); cont(cache, 'cache')
for i in range(300):
    cont('%064x' % (i + 1), 'filler%d' % i)
cont('d' * 64, 'long-' + 'x' * 1500)
c.execute("INSERT INTO edge (entity_id, parent_id, name) VALUES (?, ?, 'db')", (db, web))
c.execute("INSERT INTO edge (entity_id, parent_id, name) VALUES (?, ?, 'redis')", (cache, web))
c.commit()
c.close()
