// Run once, on a new volume, by the mongo image's entry point (as the root user): the user
// Machinery connects as, with the rights it needs on its own database alone (readWrite for its
// documents and change streams, dbAdmin for its indexes and the events' retention).
const database = process.env.MONGO_DB || "machinery";
db.getSiblingDB(database).createUser({
  user: process.env.MACHINERY_MONGO_USER,
  pwd: process.env.MACHINERY_MONGO_PASSWORD,
  roles: [
    { role: "readWrite", db: database },
    { role: "dbAdmin", db: database },
  ],
});
