//! Where document bytes live: one small trait, content-addressed by SHA-256, with the
//! local file system (the default) and S3-compatible object storage behind it.
//!
//! Bytes are never half-written under their name: an upload stages a complete, synced
//! temporary file first and only then publishes it (a hard link on the file system, a
//! single PUT to object storage). Removal is two-step — `retire` moves the bytes aside,
//! `purge` deletes them, `restore` undoes — so the orphan sweep can take bytes away
//! before it deletes their database row and give them back if an upload claimed them
//! meanwhile.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload};

use crate::blocking::blocking_io;

pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// A stored object as a listing shows it.
#[derive(Clone, Debug)]
pub struct Listed {
    pub key: String,
    pub modified: chrono::DateTime<chrono::Utc>,
}

pub trait BlobStore: Send + Sync {
    /// Publishes the complete file `staged` under `key` (its SHA-256). Publishing bytes
    /// that are already there is harmless: same name, same content.
    fn put<'a>(&'a self, key: &'a str, staged: &'a Path) -> BoxFuture<'a, io::Result<()>>;
    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<bool>>;
    /// The bytes (or the range of them), in chunks.
    fn read<'a>(&'a self, key: &'a str, range: Option<Range<u64>>) -> BoxFuture<'a, io::Result<ByteStream>>;
    /// Moves the bytes aside; `None` when there were none.
    fn retire<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<String>>>;
    /// Puts retired bytes back under their name.
    fn restore<'a>(&'a self, key: &'a str, retired: &'a str) -> BoxFuture<'a, io::Result<()>>;
    fn purge<'a>(&'a self, retired: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// Every stored key (for the orphan sweep).
    fn list(&self) -> BoxFuture<'_, io::Result<Vec<Listed>>>;
}

/// Content-addressed files under `<root>/blobs/ab/abcdef…`, retired ones in `<root>/trash`.
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: PathBuf) -> io::Result<LocalStore> {
        std::fs::create_dir_all(root.join("blobs"))?;
        std::fs::create_dir_all(root.join("trash"))?;
        Ok(LocalStore { root })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root
            .join("blobs")
            .join(key.get(..2).unwrap_or("00"))
            .join(key)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl BlobStore for LocalStore {
    fn put<'a>(&'a self, key: &'a str, staged: &'a Path) -> BoxFuture<'a, io::Result<()>> {
        let (target, staged) = (self.path(key), staged.to_path_buf());
        Box::pin(blocking_io(move || {
            let dir = target.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            // A link, not a rename: the upload keeps its staged copy until its row is
            // committed, so it can publish again if the sweep took these bytes meanwhile.
            match std::fs::hard_link(&staged, &target) {
                Ok(()) => sync_dir(dir),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(e),
            }
        }))
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<bool>> {
        let path = self.path(key);
        Box::pin(blocking_io(move || path.try_exists()))
    }

    fn read<'a>(&'a self, key: &'a str, range: Option<Range<u64>>) -> BoxFuture<'a, io::Result<ByteStream>> {
        let path = self.path(key);
        Box::pin(async move {
            let (file, remaining) = blocking_io(move || {
                use std::io::Seek;
                let mut file = std::fs::File::open(path)?;
                let len = file.metadata()?.len();
                let range = range.unwrap_or(0..len);
                file.seek(io::SeekFrom::Start(range.start))?;
                Ok((file, range.end.saturating_sub(range.start)))
            })
            .await?;
            Ok(chunks(file, remaining))
        })
    }

    fn retire<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<String>>> {
        let (path, trash) = (self.path(key), self.root.join("trash"));
        let retired = format!("{key}.{}", uuid::Uuid::now_v7());
        Box::pin(blocking_io(move || {
            match std::fs::rename(&path, trash.join(&retired)) {
                Ok(()) => Ok(Some(retired)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }))
    }

    fn restore<'a>(&'a self, key: &'a str, retired: &'a str) -> BoxFuture<'a, io::Result<()>> {
        let (path, from) = (self.path(key), self.root.join("trash").join(retired));
        Box::pin(blocking_io(move || std::fs::rename(from, path)))
    }

    fn purge<'a>(&'a self, retired: &'a str) -> BoxFuture<'a, io::Result<()>> {
        let path = self.root.join("trash").join(retired);
        Box::pin(blocking_io(move || match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }))
    }

    fn list(&self) -> BoxFuture<'_, io::Result<Vec<Listed>>> {
        let root = self.root.join("blobs");
        Box::pin(blocking_io(move || {
            let mut found = Vec::new();
            for shard in std::fs::read_dir(root)? {
                for file in std::fs::read_dir(shard?.path())? {
                    let file = file?;
                    let modified = file.metadata()?.modified()?;
                    found.push(Listed {
                        key: file.file_name().to_string_lossy().into_owned(),
                        modified: modified.into(),
                    });
                }
            }
            Ok(found)
        }))
    }
}

/// Reads `remaining` bytes of `file` in 256 KiB chunks on the blocking pool.
fn chunks(file: std::fs::File, remaining: u64) -> ByteStream {
    const CHUNK: u64 = 256 * 1024;
    let file = Arc::new(std::sync::Mutex::new(file));
    futures_util::stream::try_unfold(remaining, move |left| {
        let file = file.clone();
        async move {
            if left == 0 {
                return Ok(None);
            }
            let want = left.min(CHUNK) as usize;
            let chunk = blocking_io(move || {
                use std::io::Read;
                let mut buffer = vec![0; want];
                let mut file = file.lock().map_err(|_| io::Error::other("file lock poisoned"))?;
                file.read_exact(&mut buffer)?;
                Ok(Bytes::from(buffer))
            })
            .await?;
            Ok(Some((chunk, left - want as u64)))
        }
    })
    .boxed()
}

/// Any `object_store` backend: S3-compatible storage in production, in-memory in tests.
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
}

impl ObjectBlobStore {
    pub fn new(store: Arc<dyn ObjectStore>) -> ObjectBlobStore {
        ObjectBlobStore { store }
    }

    fn path(key: &str) -> ObjectPath {
        ObjectPath::from(format!("blobs/{key}"))
    }
}

fn io_error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e.to_string()),
        other => io::Error::other(other.to_string()),
    }
}

impl BlobStore for ObjectBlobStore {
    fn put<'a>(&'a self, key: &'a str, staged: &'a Path) -> BoxFuture<'a, io::Result<()>> {
        let staged = staged.to_path_buf();
        Box::pin(async move {
            // At most the upload limit (5 MB by default): one PUT, the bytes held once.
            let bytes = blocking_io(move || std::fs::read(staged)).await?;
            self.store
                .put(&Self::path(key), PutPayload::from(bytes))
                .await
                .map_err(io_error)?;
            Ok(())
        })
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<bool>> {
        Box::pin(async move {
            match self.store.head(&Self::path(key)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(io_error(e)),
            }
        })
    }

    fn read<'a>(&'a self, key: &'a str, range: Option<Range<u64>>) -> BoxFuture<'a, io::Result<ByteStream>> {
        Box::pin(async move {
            let options = GetOptions {
                range: range.map(GetRange::Bounded),
                ..GetOptions::default()
            };
            let found = self
                .store
                .get_opts(&Self::path(key), options)
                .await
                .map_err(io_error)?;
            Ok(found.into_stream().map_err(io_error).boxed())
        })
    }

    fn retire<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Option<String>>> {
        Box::pin(async move {
            let retired = format!("trash/{key}.{}", uuid::Uuid::now_v7());
            match self
                .store
                .rename(&Self::path(key), &ObjectPath::from(retired.as_str()))
                .await
            {
                Ok(()) => Ok(Some(retired)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(io_error(e)),
            }
        })
    }

    fn restore<'a>(&'a self, key: &'a str, retired: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            self.store
                .rename(&ObjectPath::from(retired), &Self::path(key))
                .await
                .map_err(io_error)
        })
    }

    fn purge<'a>(&'a self, retired: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match self.store.delete(&ObjectPath::from(retired)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(io_error(e)),
            }
        })
    }

    fn list(&self) -> BoxFuture<'_, io::Result<Vec<Listed>>> {
        Box::pin(async move {
            let prefix = ObjectPath::from("blobs");
            let listed: Vec<object_store::ObjectMeta> = self
                .store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(io_error)?;
            Ok(listed
                .into_iter()
                .filter_map(|meta| {
                    Some(Listed {
                        key: meta.location.filename()?.to_string(),
                        modified: meta.last_modified,
                    })
                })
                .collect())
        })
    }
}
