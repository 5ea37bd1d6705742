//! Databases for unit tests: a fresh SQLite file, and a fresh PostgreSQL schema when
//! `DATAPUMP_TEST_DATABASE_URL` is set (as in CI), both migrated.

use std::path::Path;

use super::Db;

pub struct TestDb {
    pub db: Db,
    /// The PostgreSQL schema to drop afterwards.
    pub schema: Option<Schema>,
}

pub struct Schema {
    url: String,
    name: String,
}

impl Schema {
    pub async fn drop(self) {
        if let Ok(pool) = sqlx::PgPool::connect(&self.url).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                self.name
            )))
            .execute(&pool)
            .await;
            pool.close().await;
        }
    }
}

pub async fn databases(dir: &Path) -> Vec<TestDb> {
    let sqlite = Db::connect_sqlite_file(&dir.join("t.db"))
        .await
        .expect("sqlite");
    sqlite.migrate().await.expect("migrate");
    let mut out = vec![TestDb {
        db: sqlite,
        schema: None,
    }];
    if let Ok(url) = std::env::var("DATAPUMP_TEST_DATABASE_URL") {
        let name = format!("t_unit_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&admin)
            .await
            .expect("schema");
        admin.close().await;
        let db = Db::connect_postgres_schema(&url, &name)
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        out.push(TestDb {
            db,
            schema: Some(Schema { url, name }),
        });
    }
    out
}
