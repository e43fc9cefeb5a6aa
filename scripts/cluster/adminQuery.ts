import pg from 'pg';

/** Runs one statement on a PostgreSQL server as its administrator (creating and dropping databases). */
export async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
