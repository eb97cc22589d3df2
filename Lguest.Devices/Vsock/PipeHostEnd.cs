using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Lguest.Memory;

namespace Lguest.Devices;

/// <summary>
/// A connection's host end in this process: two pipes (System.IO.Pipelines) that a .NET program holds as a
/// <see cref="VsockStream"/> or an <see cref="IDuplexPipe"/>. Guest data is copied from guest memory into the
/// program's pipe and counts as forwarded (fwd_cnt) only when the program consumes it, so an unread pipe holds
/// at most the connection's credit. The program's writes go into the other pipe, which pauses its writer at
/// <see cref="VsockConnection.BufferSize"/> unread bytes: a guest that does not read blocks the program's writes.
/// </summary>
// The awaiters of the socket's or pipe's ValueTasks are kept in fields and consumed once, in their completion
// callbacks: the allocation-free way to be told of readiness without an async method per wait.
#pragma warning disable CA2012
internal sealed class PipeHostEnd : VsockHostEnd
{
    // Copies into the program's pipe in pieces of this size: the pipe's pooled segments are 4 KiB.
    private const int CopyPiece = 4096;

    private readonly Pipe _toProgram = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Pipe _fromProgram = new(new PipeOptions(pauseWriterThreshold: VsockConnection.BufferSize,
        resumeWriterThreshold: VsockConnection.BufferSize / 2, useSynchronizationContext: false));
    private readonly TaskCompletionSource<VsockStream> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action _onReadable;
    private ConfiguredValueTaskAwaitable<ReadResult>.ConfiguredValueTaskAwaiter _readable;
    private bool _reading;
    private bool _programInputDone;
    private bool _programOutputDone;

    public PipeHostEnd()
    {
        _onReadable = OnReadable;
        Stream = new VsockStream(this, new ProgramReader(this, _toProgram.Reader), new ProgramWriter(this, _fromProgram.Writer));
    }

    /// <summary>The program's face of the connection.</summary>
    public VsockStream Stream { get; }

    /// <summary>Completes when the guest accepted a host-initiated connection; fails as the connection does.</summary>
    public Task<VsockStream> Connected => _connected.Task;

    /// <summary>The connection's host port.</summary>
    public uint LocalPort => Connection.LocalPort;

    /// <summary>The connection's guest port.</summary>
    public uint PeerPort => Connection.PeerPort;

    /// <summary>Nothing is held back: what sits in the program's pipe stays readable after the connection ends.</summary>
    public override int Pending => 0;

    /// <inheritdoc />
    public override bool IsReceiveDone => _programInputDone;

    /// <inheritdoc />
    public override int Send(GuestMemory memory, ReadOnlySpan<GuestBuffer> payload, uint length)
    {
        if (IsClosed || _programInputDone)
            return (int)length; // nobody reads: dropped, and counted as taken so the guest does not stall
        PipeWriter writer = _toProgram.Writer;
        uint left = length;
        foreach (GuestBuffer buffer in payload)
        {
            ulong offset = 0;
            while (left > 0 && offset < buffer.Length)
            {
                Span<byte> target = writer.GetSpan(CopyPiece);
                int n = (int)Math.Min(Math.Min((ulong)target.Length, buffer.Length - offset), left);
                memory.Read(buffer.Address.Offset(offset), target[..n]);
                writer.Advance(n);
                offset += (ulong)n;
                left -= (uint)n;
            }
            if (left == 0)
                break;
        }
        // No pause threshold (the credit bounds this pipe): the flush completes at once, waking the program's read.
        ValueTask<FlushResult> flush = writer.FlushAsync();
        if (!flush.IsCompletedSuccessfully)
            throw new IOException("the program's pipe did not take the guest's data");
        _ = flush.Result;
        return 0; // forwarded when the program consumes it (ProgramReader.AdvanceTo)
    }

    /// <inheritdoc />
    public override int Receive(GuestMemory memory, ReadOnlySpan<GuestBuffer> into)
    {
        if (IsClosed || _reading)
            return -1;
        PipeReader reader = _fromProgram.Reader;
        try
        {
            while (true)
            {
                if (reader.TryRead(out ReadResult result))
                {
                    ReadOnlySequence<byte> buffer = result.Buffer;
                    if (!buffer.IsEmpty)
                    {
                        int copied = CopyToGuest(memory, buffer, into);
                        reader.AdvanceTo(buffer.GetPosition(copied));
                        return copied;
                    }
                    reader.AdvanceTo(buffer.Start);
                    if (result.IsCompleted)
                        return 0; // the program completed its output: end of stream
                }
                // Nothing now: a read completes when the program writes (or completes its output).
                ConfiguredValueTaskAwaitable<ReadResult>.ConfiguredValueTaskAwaiter readable = reader.ReadAsync().ConfigureAwait(false).GetAwaiter();
                if (!readable.IsCompleted)
                {
                    _reading = true;
                    _readable = readable;
                    readable.UnsafeOnCompleted(_onReadable);
                    return -1;
                }
                ReadResult ready = readable.GetResult();
                reader.AdvanceTo(ready.Buffer.Start); // looked at nothing: TryRead above takes it
            }
        }
        catch (Exception e) when (e is not IOException)
        {
            // The program completed its output with an error: the guest gets a reset.
            throw new IOException($"the program's side of the vsock connection failed: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public override void EndSend() => _toProgram.Writer.Complete(); // the program reads what is left, then end of stream

    /// <inheritdoc />
    public override bool Accepted(uint localPort) => _connected.TrySetResult(Stream);

    /// <inheritdoc />
    protected override void OnClose(Exception? failure)
    {
        _toProgram.Writer.Complete(failure);
        if (_reading)
            _fromProgram.Reader.CancelPendingRead(); // its completion (OnReadable) only consumes the result
        // The program's next write or flush throws this: the guest will never read it.
        _fromProgram.Reader.Complete(failure ?? new IOException("the vsock connection is closed"));
        _connected.TrySetException(failure ?? new SocketException((int)SocketError.ConnectionRefused));
    }

    /// <summary>The program consumed <paramref name="bytes"/> of the guest's data: the guest may send that much more.</summary>
    internal void ProgramConsumed(long bytes)
    {
        if (bytes <= 0)
            return;
        lock (Connection.Sync)
        {
            if (!IsClosed)
                Connection.OnHostForwarded((int)bytes);
        }
    }

    /// <summary>The program will read no more.</summary>
    internal void ProgramInputCompleted()
    {
        lock (Connection.Sync)
        {
            _programInputDone = true;
            if (_programOutputDone && !IsClosed)
                Connection.OnHostClosed();
        }
    }

    /// <summary>The program will write no more.</summary>
    internal void ProgramOutputCompleted()
    {
        lock (Connection.Sync)
        {
            _programOutputDone = true;
            if (_programInputDone && !IsClosed)
                Connection.OnHostClosed();
        }
    }

    private void OnReadable()
    {
        lock (Connection.Sync)
        {
            _reading = false;
            try
            {
                ReadResult ready = _readable.GetResult();
                if (IsClosed)
                    return;
                _fromProgram.Reader.AdvanceTo(ready.Buffer.Start); // looked at nothing: Receive reads it
            }
#pragma warning disable CA1031 // the program may complete its output with any exception: it resets the connection
            catch (Exception e)
#pragma warning restore CA1031
            {
                if (!IsClosed)
                    Connection.Kill("the program's side of the connection failed", new IOException(e.Message, e));
                return;
            }
            Connection.OnHostReadable();
        }
    }

    private static int CopyToGuest(GuestMemory memory, ReadOnlySequence<byte> source, ReadOnlySpan<GuestBuffer> into)
    {
        int copied = 0;
        SequenceReader<byte> reader = new(source);
        foreach (GuestBuffer buffer in into)
        {
            ulong offset = 0;
            while (offset < buffer.Length && !reader.End)
            {
                ReadOnlySpan<byte> piece = reader.UnreadSpan;
                int n = (int)Math.Min((ulong)piece.Length, buffer.Length - offset);
                memory.Write(buffer.Address.Offset(offset), piece[..n]);
                reader.Advance(n);
                offset += (ulong)n;
                copied += n;
            }
            if (reader.End)
                break;
        }
        return copied;
    }
}
