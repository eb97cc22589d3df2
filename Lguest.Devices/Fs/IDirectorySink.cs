namespace Lguest.Devices;

/// <summary>Where <see cref="IFileSystem.ReadDirectory"/> puts the entries it reads, in order, until the reply is full.</summary>
internal interface IDirectorySink
{
    /// <summary>
    /// Adds one entry. Returns false when it does not fit: the file system stops there, and the guest asks
    /// again from the last entry's <paramref name="nextOffset"/>.
    /// </summary>
    /// <param name="inode">The host inode number (d_ino).</param>
    /// <param name="nextOffset">Where a READDIR continues after this entry (d_off).</param>
    /// <param name="type">The entry's type, DT_* (the S_IFMT bits shifted right by 12).</param>
    /// <param name="name">The entry's name, without a NUL (".", ".." included).</param>
    bool TryAdd(ulong inode, ulong nextOffset, uint type, ReadOnlySpan<byte> name);
}
