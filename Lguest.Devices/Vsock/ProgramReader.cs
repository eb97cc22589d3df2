using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Lguest.Devices;

/// <summary>
/// The program's reading side of a <see cref="PipeHostEnd"/>: the pipe the device fills with the guest's data,
/// counting what the program consumes, which is what the guest is told it may send again (fwd_cnt).
/// </summary>
internal sealed class ProgramReader(PipeHostEnd end, PipeReader inner) : PipeReader
{
    private ReadOnlySequence<byte> _last;

    /// <inheritdoc />
    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
            return false;
        _last = result.Buffer;
        return true;
    }

    /// <inheritdoc />
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ReadResult result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
        _last = result.Buffer;
        return result;
    }

    /// <inheritdoc />
    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    /// <inheritdoc />
    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        long bytes = _last.Slice(_last.Start, consumed).Length;
        inner.AdvanceTo(consumed, examined);
        _last = default;
        end.ProgramConsumed(bytes);
    }

    /// <inheritdoc />
    public override void CancelPendingRead() => inner.CancelPendingRead();

    /// <inheritdoc />
    public override void Complete(Exception? exception = null)
    {
        end.ProgramInputCompleted(); // first: the device stops writing before the pipe's reader goes
        inner.Complete(exception);
    }
}
