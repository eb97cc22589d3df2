using System.IO.Pipelines;

namespace Lguest.Devices;

/// <summary>
/// Blocking waits on pipes, for the console's dedicated threads (which also sleep on eventfds, so
/// they are threads rather than tasks). A completed operation costs no allocation.
/// </summary>
internal static class PipeWaits
{
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired.</exception>
    public static ReadResult Read(PipeReader reader, CancellationToken cancellation)
    {
        ValueTask<ReadResult> read = reader.ReadAsync(cancellation);
        return read.IsCompletedSuccessfully ? read.Result : read.AsTask().GetAwaiter().GetResult();
    }

    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired.</exception>
    public static FlushResult Flush(PipeWriter writer, CancellationToken cancellation)
    {
        ValueTask<FlushResult> flush = writer.FlushAsync(cancellation);
        return flush.IsCompletedSuccessfully ? flush.Result : flush.AsTask().GetAwaiter().GetResult();
    }
}
