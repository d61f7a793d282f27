//! What we keep on disk is readable by us alone, whatever the umask: the data directory we
//! create (0700), the SQLite database and its WAL (0600), uploaded documents (0700 / 0600).
#![cfg(unix)]

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Backend, CODE_A, TestApp, application};

on_both_backends!(data_and_documents_are_private);

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// 数据目录、SQLite 数据库及其 WAL、上传的资质文件：仅本服务可读。
async fn data_and_documents_are_private(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.data_dir = c.data_dir.join("data")).await;
    let data = app.config.data_dir.clone();
    assert_eq!(mode(&data), 0o700, "the data directory we create");
    if let Backend::Sqlite = backend {
        // A write, so the WAL exists.
        app.register(&application(CODE_A)).await;
        for file in ["chargebridge.db", "chargebridge.db-wal"] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
    }
    let (id, portal) = if let Backend::Sqlite = backend {
        // Registered above; a second partner for the upload.
        app.register(&application(common::CODE_B)).await
    } else {
        app.register(&application(CODE_A)).await
    };
    let form = reqwest::multipart::Form::new()
        .text("kind", "business_license")
        .part("file", reqwest::multipart::Part::bytes(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec()).file_name("营业执照.pdf"));
    let response = app.http.post(app.url("/api/portal/v1/partners/me/documents")).bearer_auth(&portal).multipart(form).send().await.unwrap();
    let (status, doc) = common::read(response).await;
    assert_eq!(status, 201, "{doc}");
    let documents = data.join("chargebridge-documents");
    assert_eq!(mode(&documents), 0o700, "the documents directory");
    assert_eq!(mode(&documents.join(&id)), 0o700, "the partner's directory");
    assert_eq!(mode(&documents.join(&id).join(doc["id"].as_str().unwrap())), 0o600, "the document");
    app.cleanup().await;
}
