//! `parole questionnaire import-xlsform FILE [-o FILE.json]`: the XLSForm import, on this
//! machine, with the server's own converter (`parole_server::xlsform`): no server, no
//! account. The document goes to the file or standard output; each warning to stderr as
//! `sheet:row:column: message`, in the CLI's language. A workbook that cannot become a
//! questionnaire exits non-zero with its errors listed the same way.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use parole_client::api::XlsformIssue;

use super::Lang;

/// `sheet:row:column: message` (`message` alone for the whole file).
fn line(issue: &XlsformIssue, lang: Lang) -> String {
    let place = issue.place();
    let text = issue.message.pick(lang);
    if place.is_empty() {
        text.to_string()
    } else {
        format!("{place}: {text}")
    }
}

pub fn import(file: &Path, output: Option<&Path>, lang: Lang) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("{} {}", lang.pick("lecture de", "reading"), file.display()))?;
    let report = match parole_server::xlsform::convert(&bytes) {
        Ok(report) => report,
        Err(errors) => {
            eprintln!(
                "{} {}",
                file.display(),
                lang.pick(
                    "ne peut pas devenir un questionnaire :",
                    "cannot become a questionnaire:"
                )
            );
            for e in &errors {
                eprintln!("{}", line(e, lang));
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &report.warnings {
        eprintln!("{}", line(w, lang));
    }
    let json = serde_json::to_string_pretty(&report.document)? + "\n";
    match output {
        Some(path) => std::fs::write(path, json).with_context(|| {
            format!("{} {}", lang.pick("écriture de", "writing"), path.display())
        })?,
        None => std::io::stdout().write_all(json.as_bytes())?,
    }
    let n = report.warnings.len();
    eprintln!(
        "{}",
        match lang {
            Lang::Fr =>
                format!("{n} avertissement(s) : ce qui n'a pas été converti, ligne par ligne"),
            Lang::En => format!("{n} warning(s): what was not converted, row by row"),
        }
    );
    if let Some(slug) = &report.slug {
        eprintln!(
            "{} parole questionnaire publish --slug {slug} --file {}",
            lang.pick("pour publier :", "to publish:"),
            output.map_or(lang.pick("FICHIER.json", "FILE.json").to_string(), |p| p
                .display()
                .to_string())
        );
    }
    Ok(ExitCode::SUCCESS)
}
