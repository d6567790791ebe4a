<p>Hello {{name}}!</p>
