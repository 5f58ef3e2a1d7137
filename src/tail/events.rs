//! `--events`: a Kubernetes event of a selected pod, rendered where that pod's log
//! lines go (stdout, in order with them through the one writer), with its prefix.

use crate::kube::EventRecord;
use crate::output::writer::Out;
use crate::render::Origin;
use crate::render::format::EventText;
use crate::render::time::parse_rfc3339_second;
use crate::tail::context::TailContext;

/// Sends `ev` to the writer; nothing with `--files-only`, as events have no file.
pub(crate) async fn show(ctx: &TailContext, ev: &EventRecord) {
    if !ctx.stdout {
        return;
    }
    let pod = &ev.pod;
    let mut format = ctx.render.target(&Origin {
        context: &ev.context,
        namespace: &pod.namespace,
        pod: &pod.name,
        container: &ev.container,
        node: &pod.info.node,
        labels: &pod.info.labels,
        annotations: &pod.info.annotations,
        previous: false,
    });
    let mut out = Vec::new();
    let time = ev.time.as_bytes();
    format.write_event(
        &mut out,
        time,
        parse_rfc3339_second(time),
        &EventText {
            kind: &ev.kind,
            reason: &ev.reason,
            message: &ev.message,
            count: ev.count,
            source: &ev.source,
        },
    );
    let _ = ctx.out.send(Out::Lines(out)).await;
}
