"""Code written for pgmonkey 3.x that runs unchanged (the 3.4 generate-code samples)."""

import asyncio

from pgmonkey import EnvInterpolationError, PGConnectionManager, load_config  # noqa: F401
from pgmonkey.common.utils.redaction import redact_config


def main():
    connection_manager = PGConnectionManager()
    config_file_path = "config.yaml"

    connection = connection_manager.get_database_connection(config_file_path, "normal")
    with connection as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT 1;")
            print("normal:", cur.fetchone())

    pool_connection = connection_manager.get_database_connection(config_file_path, "pool")
    with pool_connection as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT 1;")
            print("pool:", cur.fetchone())

    cfg = load_config(config_file_path)
    print("password:", redact_config(cfg)["connection_settings"]["password"])


async def amain():
    connection_manager = PGConnectionManager()
    connection = await connection_manager.get_database_connection("config.yaml", "async_pool")
    async with connection as conn:
        async with conn.cursor() as cur:
            await cur.execute("SELECT 1;")
            print("async_pool:", await cur.fetchone())
    await connection_manager.clear_cache_async()


if __name__ == "__main__":
    main()
    asyncio.run(amain())
