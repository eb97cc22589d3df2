using System.Buffers;
using System.IO.Pipelines;

namespace Lguest.Devices;

/// <summary>
/// One vsock connection between this .NET program and a guest port, as a <see cref="Stream"/> and as an
/// <see cref="IDuplexPipe"/> (use one face or the other for each direction, not both at once). Writes block
/// (or their tasks wait) while the guest has not read what was sent before; reads return 0 once the guest
/// shut down its sending side, and throw <see cref="IOException"/> once the connection was reset (the guest
/// reset it, rebooted, or the launcher stopped). Disposing it closes the connection: the guest reads the end
/// of the stream after the last bytes written.
/// </summary>
/// <remarks>One reader and one writer may use it at the same time, from any threads.</remarks>
public sealed class VsockStream : Stream, IDuplexPipe
{
    private readonly PipeHostEnd _end;
    private readonly ProgramReader _input;
    private readonly ProgramWriter _output;
    private int _disposed;

    internal VsockStream(PipeHostEnd end, ProgramReader input, ProgramWriter output)
    {
        _end = end;
        _input = input;
        _output = output;
    }

    /// <summary>The host side's port (the guest sees it as the connection's source or destination port on CID 2).</summary>
    public uint LocalPort => _end.LocalPort;

    /// <summary>The guest side's port.</summary>
    public uint RemotePort => _end.PeerPort;

    /// <summary>The guest's data, as a pipe: the guest may send again what the program has consumed.</summary>
    public PipeReader Input => _input;

    /// <summary>Data for the guest, as a pipe: a flush waits while the guest is behind; completing it ends the guest's stream.</summary>
    public PipeWriter Output => _output;

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanWrite => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <summary>Not supported: a stream has no length.</summary>
    public override long Length => throw new NotSupportedException();

    /// <summary>Not supported: a stream has no position.</summary>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        while (true)
        {
            ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> data = result.Buffer;
            if (data.IsEmpty)
            {
                _input.AdvanceTo(data.End);
                if (result.IsCompleted || buffer.IsEmpty)
                    return 0;
                continue;
            }
            int n = (int)Math.Min(data.Length, buffer.Length);
            data.Slice(0, n).CopyTo(buffer.Span);
            _input.AdvanceTo(data.GetPosition(n));
            return n;
        }
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override int Read(Span<byte> buffer)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            int n = ReadAsync(rented.AsMemory(0, buffer.Length)).AsTask().GetAwaiter().GetResult();
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        FlushResult result = await _output.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (result.IsCompleted)
            throw new IOException("the vsock connection is closed");
    }

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        _output.Write(buffer);
        FlushResult result = _output.FlushAsync().AsTask().GetAwaiter().GetResult();
        if (result.IsCompleted)
            throw new IOException("the vsock connection is closed");
    }

    /// <summary>Nothing to do: every write is handed to the device at once.</summary>
    public override void Flush()
    {
    }

    /// <summary>Nothing to do: every write is handed to the device at once.</summary>
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Not supported.</summary>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <summary>Not supported.</summary>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Closes the connection: the guest reads what was written, then the end of the stream.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // The reading side first: when the device finds the end of the program's output, it already knows the
            // program reads no more, and asks the guest to close both ways in one SHUTDOWN (the other order raced:
            // an end of output read in between went out as SHUTDOWN of sending alone).
            _input.Complete();
            _output.Complete();
        }
        base.Dispose(disposing);
    }
}
