//! CSV exports (applications, audit records): RFC 4180 rows ended by CRLF, written by the
//! `csv` crate, with every cell a spreadsheet would run as a formula defused.

use actix_web::web::Bytes;

use crate::error::ApiError;

/// Rows of one export, or of one page of a streamed export.
pub struct CsvRows {
    out: csv::Writer<Vec<u8>>,
    bom: bool,
}

impl CsvRows {
    /// The first rows of an export: a byte-order mark, so spreadsheets read UTF-8 (and the
    /// Cyrillic in it) right, then `header`.
    pub fn first(header: &[&str]) -> Result<CsvRows, ApiError> {
        let mut rows = CsvRows::more();
        rows.bom = true;
        rows.out.write_record(header).map_err(ApiError::internal)?;
        Ok(rows)
    }

    /// Rows that continue an export already begun (a later page of a stream).
    pub fn more() -> CsvRows {
        let out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        CsvRows { out, bom: false }
    }

    /// One row; quoting is the crate's, defusing ours.
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) -> Result<(), ApiError> {
        let cells = cells.into_iter().map(|cell| defused(cell.as_ref()).into_owned());
        self.out.write_record(cells).map_err(ApiError::internal)
    }

    pub fn into_bytes(self) -> Result<Bytes, ApiError> {
        let mut bytes = self.out.into_inner().map_err(ApiError::internal)?;
        if self.bom {
            bytes.splice(0..0, "\u{feff}".bytes());
        }
        Ok(Bytes::from(bytes))
    }
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
/// leading `'`, so it is shown as text (OWASP's advice on CSV injection).
fn defused(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(header: &[&str], cells: &[&str]) -> String {
        let mut rows = CsvRows::first(header).unwrap_or_else(|e| panic!("{e:?}"));
        rows.row(cells).unwrap_or_else(|e| panic!("{e:?}"));
        String::from_utf8(rows.into_bytes().unwrap_or_else(|e| panic!("{e:?}")).to_vec())
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn formulas_are_defused() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defused(formula), format!("'{formula}"));
        }
        assert_eq!(defused("plain"), "plain");
    }

    #[test]
    fn fields_are_quoted_as_rfc4180_says_and_rows_end_in_crlf() {
        let text = written(
            &["a", "b", "c", "d", "e"],
            &["plain", "a,b", "say \"hi\"", "=SUM(A1)", "line\nbreak"],
        );
        assert_eq!(
            text,
            "\u{feff}a,b,c,d,e\r\nplain,\"a,b\",\"say \"\"hi\"\"\",'=SUM(A1),\"line\nbreak\"\r\n"
        );
        let mut more = CsvRows::more();
        more.row(["x"]).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            &more.into_bytes().unwrap_or_else(|e| panic!("{e:?}"))[..],
            b"x\r\n",
            "a later page has no BOM"
        );
    }
}
