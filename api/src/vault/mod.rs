//! Document bytes and their life cycle around the database rows: publishing an upload,
//! taking back the bytes of a failed one, the orphan sweep and the retention job.

pub mod download;
pub mod package;
pub mod serve;
pub mod store;
pub mod upload;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use persistence::{documents, Database};

use crate::config::{Config, Storage};
use crate::error::ApiError;
use domain::time::Instant;
pub use store::{BlobStore, ByteStream, LocalStore, ObjectBlobStore};
pub use upload::Staged;

/// Fault injection for tests: stands for the process dying at a given point.
#[derive(Debug, Default)]
pub struct Faults {
    /// Stop an upload after its bytes are published and before its row is written,
    /// leaving everything as a crash would (no clean-up runs).
    pub crash_after_publish: AtomicBool,
}

/// Ends an upload the way a crash would: the staged file stays, nothing is cleaned up.
pub fn crash(staged: Staged) -> ApiError {
    std::mem::forget(staged);
    ApiError::unavailable(
        "simulated_crash",
        "The upload stopped half-way (fault injection).",
    )
}

pub struct Vault {
    pub store: Arc<dyn BlobStore>,
    /// Where uploads are written before they are published.
    pub staging: PathBuf,
    pub max_upload_bytes: u64,
    /// The limits a DOCX or XLSX upload is opened with.
    pub packages: package::PackageLimits,
    pub faults: Faults,
}

/// What one sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Bytes whose last document or attachment is gone.
    pub released: usize,
    /// Bytes no row ever pointed at (an upload interrupted between bytes and row).
    pub strays: usize,
    /// Unfinished staging files.
    pub partials: usize,
}

/// An S3-compatible bucket (credentials from the standard `AWS_*` variables).
#[cfg(feature = "s3")]
fn s3_store(
    bucket: &str,
    endpoint: Option<&str>,
    region: Option<&str>,
    allow_http: bool,
) -> Result<Arc<dyn BlobStore>, String> {
    let mut builder = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_allow_http(allow_http);
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = region {
        builder = builder.with_region(region);
    }
    let store = builder.build().map_err(|e| format!("S3 storage: {e}"))?;
    Ok(Arc::new(ObjectBlobStore::new(Arc::new(store))))
}

/// Without the `s3` feature the S3 client is not compiled in (it is most of the storage
/// code's dependencies); asking for it is a start-up error, not a silent fallback.
#[cfg(not(feature = "s3"))]
fn s3_store(_: &str, _: Option<&str>, _: Option<&str>, _: bool) -> Result<Arc<dyn BlobStore>, String> {
    Err("storage = s3 needs a build with the `s3` feature (cargo build --features s3)".into())
}

impl Vault {
    pub fn open(config: &Config) -> Result<Vault, String> {
        let root = config.data_dir.join("documents");
        let store: Arc<dyn BlobStore> = match &config.storage {
            Storage::Local => {
                Arc::new(LocalStore::new(root.clone()).map_err(|e| format!("{}: {e}", root.display()))?)
            }
            Storage::Memory => Arc::new(ObjectBlobStore::new(Arc::new(
                object_store::memory::InMemory::new(),
            ))),
            Storage::S3 {
                bucket,
                endpoint,
                region,
                allow_http,
            } => s3_store(bucket, endpoint.as_deref(), region.as_deref(), *allow_http)?,
        };
        let staging = root.join("staging");
        std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
        Ok(Vault {
            store,
            staging,
            max_upload_bytes: config.max_upload_bytes,
            packages: package::PackageLimits {
                max_parts: config.ooxml_max_parts,
                max_uncompressed_bytes: config.ooxml_max_uncompressed_bytes,
                max_ratio: config.ooxml_max_ratio,
            },
            faults: Faults::default(),
        })
    }

    /// Makes the staged bytes available under their hash, before any row points at them.
    pub async fn publish(&self, staged: &Staged) -> Result<(), ApiError> {
        self.store
            .put(&staged.sha256, &staged.path)
            .await
            .map_err(ApiError::internal)?;
        Ok(())
    }

    /// Whether a test asked uploads to stop after publishing (see [`Faults`]).
    pub fn crashing(&self) -> bool {
        self.faults.crash_after_publish.load(Ordering::SeqCst)
    }

    /// After the row is committed: if the sweep took the bytes between publishing and
    /// committing (they were unreferenced then), publish them again from the staged copy.
    pub async fn confirm(&self, staged: &Staged) -> Result<(), ApiError> {
        if !self
            .store
            .exists(&staged.sha256)
            .await
            .map_err(ApiError::internal)?
        {
            self.publish(staged).await?;
        }
        Ok(())
    }

    /// Takes back the bytes of an upload whose row was not written, unless a row of
    /// another upload points at the same content.
    pub async fn discard(&self, db: &Database, sha256: &str) {
        let result: Result<(), ApiError> = async {
            let Some(retired) = self.store.retire(sha256).await.map_err(ApiError::internal)? else {
                return Ok(());
            };
            let key = sha256.to_string();
            let db = db.clone();
            let claimed =
                crate::blocking::blocking(move || Ok(db.read(|c| documents::blob_exists(c, &key))?)).await?;
            if claimed {
                self.store
                    .restore(sha256, &retired)
                    .await
                    .map_err(ApiError::internal)
            } else {
                self.store.purge(&retired).await.map_err(ApiError::internal)
            }
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not take back the bytes of a failed upload; the sweep will");
        }
    }

    /// Removes bytes nothing points at and older than `grace`, and stale staging files.
    pub async fn sweep(
        &self,
        db: &Database,
        now: Instant,
        grace: chrono::TimeDelta,
    ) -> Result<Swept, ApiError> {
        let cutoff = now - grace;
        Ok(Swept {
            released: self.release_unused(db, cutoff).await?,
            strays: self.remove_strays(db, cutoff).await?,
            partials: self.remove_stale_partials(cutoff).await?,
        })
    }

    /// Bytes whose blob row no document or attachment uses any more.
    async fn release_unused(&self, db: &Database, cutoff: Instant) -> Result<usize, ApiError> {
        let mut released = 0;
        let unused = {
            let db = db.clone();
            crate::blocking::blocking(move || Ok(db.read(|c| documents::unreferenced_blobs(c, cutoff, 500))?))
                .await?
        };
        for key in unused {
            let retired = self.store.retire(&key).await.map_err(ApiError::internal)?;
            let forgotten = {
                let (db, key) = (db.clone(), key.clone());
                crate::blocking::blocking(
                    move || Ok(db.write(|tx| documents::forget_blob(tx, &key, cutoff))?),
                )
                .await?
            };
            match (forgotten, retired) {
                (true, Some(retired)) => {
                    self.store.purge(&retired).await.map_err(ApiError::internal)?;
                    released += 1;
                }
                // An upload touched the blob meanwhile: its bytes stay.
                (false, Some(retired)) => self
                    .store
                    .restore(&key, &retired)
                    .await
                    .map_err(ApiError::internal)?,
                (_, None) => {}
            }
        }
        Ok(released)
    }

    /// Bytes without a blob row at all (an upload interrupted between bytes and row).
    async fn remove_strays(&self, db: &Database, cutoff: Instant) -> Result<usize, ApiError> {
        let mut strays = 0;
        for listed in self.store.list().await.map_err(ApiError::internal)? {
            if listed.modified >= cutoff {
                continue;
            }
            let key = listed.key;
            let known = {
                let (db, key) = (db.clone(), key.clone());
                crate::blocking::blocking(move || Ok(db.read(|c| documents::blob_exists(c, &key))?)).await?
            };
            if known {
                continue;
            }
            let Some(retired) = self.store.retire(&key).await.map_err(ApiError::internal)? else {
                continue;
            };
            let claimed = {
                let (db, key) = (db.clone(), key.clone());
                crate::blocking::blocking(move || Ok(db.read(|c| documents::blob_exists(c, &key))?)).await?
            };
            if claimed {
                self.store
                    .restore(&key, &retired)
                    .await
                    .map_err(ApiError::internal)?;
            } else {
                self.store.purge(&retired).await.map_err(ApiError::internal)?;
                strays += 1;
            }
        }
        Ok(strays)
    }

    async fn remove_stale_partials(&self, cutoff: chrono::DateTime<chrono::Utc>) -> Result<usize, ApiError> {
        let staging = self.staging.clone();
        crate::blocking::blocking_io(move || {
            let mut removed = 0;
            for entry in std::fs::read_dir(staging)? {
                let entry = entry?;
                let modified: chrono::DateTime<chrono::Utc> = entry.metadata()?.modified()?.into();
                if modified < cutoff && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
        .map_err(ApiError::internal)
    }
}
