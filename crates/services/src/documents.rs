//! Qualification documents (营业执照 and the like): checked by content, not by what the client
//! claims, kept on disk under an id, never under the uploaded name.

use std::path::PathBuf;

use domain::partner::ReviewState;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use store::documents::{self as repo, DocumentRecord};
use uuid::Uuid;

use crate::{Error, Result, Services};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 营业执照
    BusinessLicense,
    /// 充电设施运营资质 / 许可
    OperatingPermit,
    /// 法定代表人身份证明
    LegalRepresentativeId,
    /// 安全评估 / 其他
    Other,
}

impl DocumentKind {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BusinessLicense => "business_license",
            Self::OperatingPermit => "operating_permit",
            Self::LegalRepresentativeId => "legal_representative_id",
            Self::Other => "other",
        }
    }
}

const ALLOWED: &str = "PDF, PNG, JPEG";

/// The real type of a file from its first bytes.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// Keeps only a harmless display name: no path, no control characters, bounded length.
fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    if cleaned.trim().is_empty() { "document".into() } else { cleaned }
}

impl Services {
    fn document_path(&self, partner_id: Uuid, id: Uuid) -> PathBuf {
        self.settings.documents_dir.join(partner_id.to_string()).join(id.to_string())
    }

    /// Stores a document for a partner that is still in review (submitted or rejected).
    pub async fn upload_document(&self, partner_id: Uuid, kind: &str, file_name: &str, bytes: &[u8]) -> Result<DocumentRecord> {
        let kind = DocumentKind::parse(kind).ok_or_else(|| {
            Error::invalid(
                "kind",
                "must be one of business_license, operating_permit, legal_representative_id, other",
                "须为 business_license（营业执照）、operating_permit（运营资质）、legal_representative_id（法人身份证明）或 other（其他）",
            )
        })?;
        if bytes.is_empty() {
            return Err(Error::invalid("file", "is empty", "文件为空"));
        }
        if bytes.len() > self.settings.max_document_bytes {
            return Err(Error::TooLarge { limit_bytes: self.settings.max_document_bytes });
        }
        let content_type = sniff(bytes).ok_or(Error::UnsupportedType { allowed: ALLOWED })?;
        let partner = self.partner(partner_id).await?;
        if !matches!(partner.state, ReviewState::Submitted | ReviewState::Rejected) {
            return Err(Error::forbidden("documents can be added only while the application is in review or rejected", "仅在审核中或被驳回时可上传资质文件"));
        }
        let mut conn = self.db.acquire().await?;
        if repo::count_for_partner(&mut conn, partner_id).await? >= self.settings.max_documents_per_partner {
            return Err(Error::invalid("file", "too many documents for one partner", "资质文件数量已达上限"));
        }
        let record = DocumentRecord {
            id: Uuid::now_v7(),
            partner_id,
            kind: kind.as_str().into(),
            file_name: clean_file_name(file_name),
            content_type: content_type.into(),
            size_bytes: bytes.len() as i64,
            sha256: hex::encode(Sha256::digest(bytes)),
            uploaded_at: self.now(),
        };
        // Write the bytes first (to a temp name, then rename) so a row never points at a
        // missing or half-written file; remove the file if the row cannot be written.
        let path = self.document_path(partner_id, record.id);
        let io = |e: std::io::Error| Error::Internal(format!("saving document: {e}"));
        // Qualification documents are the partner's business papers: readable by us alone
        // (directories 0700, files 0600), whatever the process umask.
        let mut dirs = tokio::fs::DirBuilder::new();
        dirs.recursive(true);
        #[cfg(unix)]
        dirs.mode(0o700);
        dirs.create(path.parent().expect("document path has a parent")).await.map_err(io)?;
        let temp = path.with_extension("part");
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&temp).await.map_err(io)?;
        tokio::io::AsyncWriteExt::write_all(&mut file, bytes).await.map_err(io)?;
        file.sync_all().await.map_err(io)?;
        drop(file);
        tokio::fs::rename(&temp, &path).await.map_err(io)?;
        if let Err(e) = repo::insert(&mut conn, &record).await {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e.into());
        }
        Ok(record)
    }

    pub async fn documents(&self, partner_id: Uuid) -> Result<Vec<DocumentRecord>> {
        let mut conn = self.db.acquire().await?;
        Ok(repo::list_for_partner(&mut conn, partner_id).await?)
    }

    /// A document's record and bytes, scoped to its partner.
    pub async fn document(&self, partner_id: Uuid, id: Uuid) -> Result<(DocumentRecord, Vec<u8>)> {
        let mut conn = self.db.acquire().await?;
        let record = repo::get(&mut conn, partner_id, id).await?.ok_or(Error::not_found("document"))?;
        let bytes = tokio::fs::read(self.document_path(partner_id, id)).await.map_err(|e| Error::Internal(format!("reading document {id}: {e}")))?;
        Ok((record, bytes))
    }
}
