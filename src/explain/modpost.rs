//! The kernel's modpost: `ERROR: modpost: "sym" [drivers/x.ko]
//! undefined!`, its older `ERROR: "sym" [x.ko] undefined!` and the
//! `WARNING:` form of kernels where an unresolved module symbol did not
//! stop the build; modpost's other `ERROR:`s are link errors.
use super::collect::Collector;
use super::loc::{Site, quoted};
use super::{Family, Line};
use crate::model::FindingKind;

#[derive(Default)]
pub(super) struct Modpost;

impl Family for Modpost {
    fn take(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        let t = line.text;
        let Some(rest) = t
            .strip_prefix("ERROR: ")
            .or_else(|| t.strip_prefix("WARNING: "))
        else {
            return false;
        };
        let named = rest.strip_prefix("modpost: ");
        let rest = named.unwrap_or(rest);
        if rest.ends_with("undefined!")
            && let (Some((symbol, _)), Some(m0)) = (quoted(rest), rest.find('['))
        {
            let module = rest[m0 + 1..].split(']').next().unwrap_or_default();
            let i = out.symbol(FindingKind::UndefinedSymbol, symbol, None, t);
            let site = Site {
                object: Some(module.to_owned()),
                ..Site::default()
            };
            out.reference(i, site);
            return true;
        }
        if named.is_some() && t.starts_with("ERROR: ") {
            out.message(FindingKind::LinkError, t);
            return true;
        }
        false
    }
}
