using System.IO.Pipelines;

namespace Lguest.Devices;

/// <summary>
/// The program's writing side of a <see cref="PipeHostEnd"/>: the pipe the device empties into the guest's
/// receive buffers, within the guest's credit. It pauses the program's flushes at
/// <see cref="VsockConnection.BufferSize"/> unread bytes, so a guest that does not read blocks the program.
/// </summary>
internal sealed class ProgramWriter(PipeHostEnd end, PipeWriter inner) : PipeWriter
{
    /// <inheritdoc />
    public override void Advance(int bytes) => inner.Advance(bytes);

    /// <inheritdoc />
    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    /// <inheritdoc />
    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    /// <inheritdoc />
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    /// <inheritdoc />
    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    /// <inheritdoc />
    public override void Complete(Exception? exception = null)
    {
        inner.Complete(exception); // the device's pending read wakes and finds the end of stream (or the error)
        end.ProgramOutputCompleted();
    }
}
