enum LetheServicePlaceholder {}
