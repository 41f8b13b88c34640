//! ZAB's two durable epochs (ZooKeeper's `acceptedEpoch` and `currentEpoch`
//! files) in one small file, replaced atomically: write a temporary file,
//! fsync it, rename it over the old one, fsync the directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use broadcast::Epochs;

pub const EPOCHS_FILE: &str = "epochs";

#[derive(Debug, thiserror::Error)]
pub enum EpochsError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: expected `accepted current`, found {found:?}")]
    Malformed { path: String, found: String },
}

pub struct EpochsFile {
    path: PathBuf,
}

impl EpochsFile {
    pub fn new(data_dir: &Path) -> EpochsFile {
        EpochsFile { path: data_dir.join(EPOCHS_FILE) }
    }

    /// The stored epochs; zero for a node that never joined an ensemble.
    pub fn load(&self) -> Result<Epochs, EpochsError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Epochs::default());
            }
            Err(source) => return Err(self.io(source)),
        };
        let mut numbers = text.split_whitespace().map(str::parse::<u64>);
        match (numbers.next(), numbers.next(), numbers.next()) {
            (Some(Ok(accepted)), Some(Ok(current)), None) => Ok(Epochs { accepted, current }),
            _ => Err(EpochsError::Malformed {
                path: self.path.display().to_string(),
                found: text.chars().take(64).collect(),
            }),
        }
    }

    pub fn store(&self, epochs: Epochs) -> Result<(), EpochsError> {
        let temporary = self.path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&temporary)?;
            writeln!(file, "{} {}", epochs.accepted, epochs.current)?;
            file.sync_all()?;
            fs::rename(&temporary, &self.path)?;
            if let Some(directory) = self.path.parent() {
                fs::File::open(directory)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|source| self.io(source))
    }

    fn io(&self, source: std::io::Error) -> EpochsError {
        EpochsError::Io { path: self.path.display().to_string(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_means_epoch_zero_and_stores_round_trip() {
        let directory = tempfile::tempdir().unwrap();
        let file = EpochsFile::new(directory.path());
        assert_eq!(file.load().unwrap(), Epochs::default());
        file.store(Epochs { accepted: 7, current: 6 }).unwrap();
        assert_eq!(file.load().unwrap(), Epochs { accepted: 7, current: 6 });
        file.store(Epochs { accepted: 8, current: 8 }).unwrap();
        assert_eq!(file.load().unwrap(), Epochs { accepted: 8, current: 8 });
    }

    #[test]
    fn a_malformed_file_is_an_error_not_epoch_zero() {
        let directory = tempfile::tempdir().unwrap();
        fs::write(directory.path().join(EPOCHS_FILE), "seven").unwrap();
        let error = EpochsFile::new(directory.path()).load().unwrap_err();
        assert!(matches!(error, EpochsError::Malformed { .. }), "{error}");
    }
}
