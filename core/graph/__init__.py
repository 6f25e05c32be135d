"""Graph memory: entities and relations, in LadybugDB (embedded) or Neo4j (Bolt)."""
